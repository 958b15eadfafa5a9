"""The stopping rule, the step budget and the outcome of a run (vae_core.convergence)."""

import pytest

from vae_core import convergence as cv
from vae_core.config import NOISE_LEVELS


def test_step_budget_grows_as_sigma_shrinks():
    budgets = [cv.step_budget(s) for s in sorted(NOISE_LEVELS)]
    assert budgets == sorted(budgets, reverse=True)
    assert cv.step_budget(0.1) == 2000 and cv.step_budget(0.03) == 5000


FLAT = [0.5, 0.6, 0.65, 0.7, 0.7001, 0.7001, 0.7002, 0.7001, 0.7001]
RISING = [0.5, 0.6, 0.65, 0.7, 0.701, 0.702, 0.703, 0.704, 0.705]


def test_never_stops_before_most_of_the_schedule():
    earliest = int(cv.MIN_SCHEDULE_FRACTION * 2000)
    assert not cv.should_stop(FLAT, steps_done=earliest - 100, max_steps=2000)
    assert cv.should_stop(FLAT, steps_done=earliest, max_steps=2000)


def test_stops_only_once_the_gain_is_below_the_tolerance():
    assert not cv.should_stop(RISING, 1800, 2000)  # 0.004 over the last 4 evaluations
    barely = RISING[:5] + [RISING[4] + 0.5 * cv.TOLERANCE] * 4
    assert cv.should_stop(barely, 1800, 2000)


def test_a_plateau_then_a_rise_is_not_stopped_early():
    plateau = [0.5, 0.7, 0.7, 0.7, 0.7, 0.72]
    assert not cv.should_stop(plateau, 1800, 2000)


def test_a_gain_below_the_tie_trains_on_but_is_no_warning_at_the_cap():
    """The stop rule keeps training on a gain of half the tie; at the cap that gain alone does
    not make the run 'still improving' (it would move no claim's verdict)."""
    small_gain = FLAT[:5] + [FLAT[4] + 0.5 * cv.CAP_WARNING_GAIN] * 4
    assert cv.TOLERANCE < 0.5 * cv.CAP_WARNING_GAIN
    assert not cv.should_stop(small_gain, 1800, 2000)
    assert cv.outcome("completed", small_gain, 0.001) == cv.COMPLETED
    large_gain = FLAT[:5] + [FLAT[4] + 2 * cv.CAP_WARNING_GAIN] * 4
    assert cv.outcome("completed", large_gain, 0.001) == cv.CAPPED_IMPROVING


@pytest.mark.parametrize(
    ("status", "history", "gap", "expected"),
    [
        ("converged", FLAT, 0.0005, cv.CONVERGED),
        ("completed", FLAT, 0.001, cv.COMPLETED),
        ("completed", RISING, 0.001, cv.CAPPED_IMPROVING),
        ("completed", RISING, 0.4, cv.CAPPED_IMPROVING),  # still improving: not stuck (yet)
        ("converged", FLAT, 0.4, cv.POOR_OPTIMUM),
        ("completed", FLAT, 0.4, cv.POOR_OPTIMUM),
        ("stopped", RISING, None, cv.STOPPED),
        ("diverged", [], None, cv.DIVERGED),
    ],
)
def test_outcome(status, history, gap, expected):
    assert cv.outcome(status, history, gap) == expected


def test_converged_carries_its_caveat_below_the_paper_noise_only():
    assert cv.converged_caveat(0.1) == ""
    assert "0.003" in cv.converged_caveat(0.03)
    assert cv.converged_caveat(0.05) == cv.CONVERGED_CAVEAT
