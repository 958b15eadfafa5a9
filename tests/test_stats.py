"""Estimates over seeds, decisions against a threshold and number formatting (vae_core.stats)."""

import ast
import math
from pathlib import Path

import pytest

from vae_core import stats
from vae_core.stats import FAILS, HOLDS, UNDECIDED, UNKNOWN, above, below, estimate

CORE = Path(stats.__file__).resolve().parent


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 9, 30])
def test_t_quantile(dof):
    import scipy.stats as scipy_stats

    assert stats.t_quantile(dof) == pytest.approx(scipy_stats.t.ppf(0.975, dof), rel=2e-3)


def test_an_interval_from_one_seed_is_unbounded_and_from_none_unknown():
    one = estimate([0.3])
    assert (one.mean, one.low, one.high, one.n) == (0.3, -math.inf, math.inf, 1)
    assert above(one, 0.0) == UNDECIDED
    assert above(estimate([]), 0.0) == UNKNOWN
    assert estimate([1.0, math.nan, 3.0]).n == 2  # non-finite seeds are left out


def test_decisions_need_the_whole_interval_on_one_side():
    assert above(estimate([1.0, 1.1, 0.9]), 0.0) == HOLDS
    assert above(estimate([-1.0, -1.1, -0.9]), 0.0) == FAILS
    assert above(estimate([-1.0, 1.0, 0.1]), 0.0) == UNDECIDED
    assert below(estimate([1.0, 1.1, 0.9]), 2.0) == HOLDS
    # A difference beyond noise but below the margin that matters is no win.
    assert above(estimate([0.001, 0.0011, 0.0009]), 0.0, margin=stats.LIKELIHOOD_TIE) == UNDECIDED


def test_numbers_are_rounded_to_their_spread():
    assert stats.fmt_pm(0.123456, 0.0123) == "0.123 ± 0.012"
    assert stats.fmt_pm(0.123456, 0.03) == "0.12 ± 0.03"
    assert stats.fmt_pm(-0.0001, 0.03) == "0.00 ± 0.03"  # no "-0.00"
    assert stats.fmt(1234.5) == "1234" and stats.fmt(2e-5) == "2.00e-05"
    assert stats.fmt_mean_std([1.0, 2.0, 3.0]) == "2.0 ± 1.0"  # leading 1: a second digit


def _imported_modules(module: str) -> set[str]:
    tree = ast.parse((CORE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
    return found


@pytest.mark.parametrize("module", ["stats", "convergence"])
def test_the_stopping_rule_and_the_statistics_need_neither_pandas_nor_the_claims(module):
    imported = _imported_modules(module)
    assert not {"pandas", "vae_core.claims"} & imported
