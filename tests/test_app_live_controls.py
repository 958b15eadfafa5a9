"""dashboard/live_controls.py in AppTest: the Step size and the Live figures toggle keep what
the user set, through reruns, a page switch, and the controls disappearing (a stopped run) and
coming back (Resume)."""

from __future__ import annotations

import time

from test_app_pages import (  # noqa: F401  (train_calls is a fixture)
    TIMEOUT,
    assert_no_exception,
    buttons,
    new_session,
    open_page,
    run_until_trained,
    train_calls,
)

from dashboard import live_controls

LONG = {"steps": "10000", "early": "0"}  # long enough to press every control while it trains


def controls_drawn(at) -> bool:
    return any(w.key == live_controls.STEP_SIZE for w in at.number_input)


def wait_for_controls(at) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not controls_drawn(at):
        assert time.monotonic() < deadline, "the run's controls never appeared"
        time.sleep(0.2)
        at.run()
        assert_no_exception(at)


def step_size(at) -> int:
    return at.number_input(key=live_controls.STEP_SIZE).value


def live_figures(at) -> bool:
    return at.toggle(key=live_controls.LIVE_ON).value


def test_step_size_and_live_figures_survive_reruns_and_the_controls_coming_back(train_calls):  # noqa: F811
    at = open_page(new_session(), "train & explore", LONG)
    (train,) = buttons(at, "Train")
    train.click().run()
    wait_for_controls(at)
    assert (step_size(at), live_figures(at)) == (10, True), "the defaults"
    at.number_input(key=live_controls.STEP_SIZE).set_value(37).run()
    at.toggle(key=live_controls.LIVE_ON).set_value(False).run()
    assert_no_exception(at)
    for _ in range(5):
        at.run()
        assert_no_exception(at)
        assert (step_size(at), live_figures(at)) == (37, False)

    (stop,) = buttons(at, "Stop")
    stop.click().run()
    run_until_trained(at)
    assert not controls_drawn(at), "a stopped run shows no Step controls"
    open_page(at, "ground truth")  # away and back, as a lecturer does
    open_page(at, "train & explore")
    for _ in range(3):
        at.run()
        assert_no_exception(at)

    (resume,) = buttons(at, "Resume")
    resume.click().run()
    wait_for_controls(at)
    assert (step_size(at), live_figures(at)) == (37, False), "the controls came back reset"
    (stop,) = buttons(at, "Stop")
    stop.click().run()
    run_until_trained(at)
    assert not train_calls, "stopped runs are not cached models"
