"""The studies behind docs/claims.md: their small pieces (the studies themselves train for minutes)."""

import pandas as pd

from vae_core import claims, studies
from vae_core import convergence as cv
from vae_core.cli import seed_range
from vae_core.studies import contradicting_parts, flip_kind, summarise_cost


def test_seed_ranges():
    assert seed_range("0-4") == (0, 1, 2, 3, 4)
    assert seed_range("5") == (5,)
    assert seed_range("0,2,7-8") == (0, 2, 7, 8)


def test_flips_are_told_apart():
    assert flip_kind(claims.HOLDS, claims.HOLDS) == ""
    assert flip_kind(claims.HOLDS, claims.FAILS) == "FLIP"
    assert flip_kind(claims.FAILS, claims.HOLDS) == "FLIP"
    assert flip_kind(claims.UNDECIDED, claims.FAILS) == "undecided ↔ decided"
    assert flip_kind(claims.PARTLY, claims.FAILS) == "partly ↔ decided"
    h, f, u = claims.HOLDS, claims.FAILS, claims.UNDECIDED
    assert contradicting_parts([h, f, u, h], [f, f, h, u]) == 1


def test_stopping_cost_summary():
    table = pd.DataFrame(
        {
            "σ": [0.1, 0.1, 0.1],
            "model": ["a", "b", "c"],
            "seed": [0, 0, 0],
            "steps (rule)": [1400, 2000, 1500],
            "steps (full)": [2000, 2000, 2000],
            "test log-lik. lost": [0.001, -0.0005, 0.0035],
            "validation ELBO lost": [0.002, 0.0, 0.001],
        }
    )
    (row,) = summarise_cost(table).to_dict("records")
    assert row["runs"] == 3 and row["stopped_early"] == 2
    assert abs(row["test_ll_lost_mean"] - 0.0040 / 3) < 1e-12
    assert row["test_ll_lost_max"] == 0.0035 and row["val_elbo_lost_max"] == 0.002


def test_rule_variants_replay_the_stopping_rule_on_a_recorded_history(monkeypatch):
    from types import SimpleNamespace

    elbos = [0.5, 0.6, 0.65, 0.66, 0.66, 0.66, 0.66, 0.64, 0.64, 0.67]
    history = pd.DataFrame(
        {
            "step": range(100, 1001, 100),
            "validation_elbo": elbos,
            "validation_log_likelihood": [e + 0.01 for e in elbos],
        }
    )
    run = SimpleNamespace(config=SimpleNamespace(steps=1000), diverged=False, history=history)
    monkeypatch.setattr(studies, "train_comparison", lambda *args, **kwargs: {"m": [run]})
    table = studies.rule_variants(0.1, [0], None, variants=[(4, 2e-4, 0.7), (8, 2e-4, 0.7)])
    early, patient = table.to_dict("records")
    # Patience 4: no progress over steps 500-800 → stops at 800 in a dip, 0.03 below the end.
    assert early["mean steps"] == 800 and abs(early["val. ELBO lost max"] - 0.03) < 1e-12
    assert early["runs losing > 0.002"] == 1
    # Patience 8 never fires here: it runs the whole budget and loses nothing.
    assert patient["mean steps"] == 1000 and patient["val. ELBO lost max"] == 0


def test_the_rule_in_use_is_among_the_replayed_variants():
    in_use = (cv.PATIENCE, cv.TOLERANCE, cv.MIN_SCHEDULE_FRACTION)
    assert in_use in studies.RULE_VARIANTS
