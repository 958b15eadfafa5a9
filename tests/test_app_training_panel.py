"""dashboard/training_panel.py in AppTest: what a finished run's status box says (a preset was
not trained now), and a page reloaded mid-training that finds its run again."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest
from test_app_pages import (  # noqa: F401  (train_calls is a fixture)
    APP,
    SMALL_STEPS,
    TIMEOUT,
    assert_no_exception,
    buttons,
    new_session,
    open_page,
    run_until_trained,
    status,
    train_calls,
    train_small,
)

from dashboard.service_client import SESSION_ID, training_service
from vae_core import tour
from vae_core.cache import lookup, presets_dir


def test_a_preset_says_it_was_pre_trained_and_how_long_that_took(train_calls):  # noqa: F811
    at = open_page(new_session(), "train & explore")  # the page's defaults: the MFG-VAE preset
    stored = lookup(tour.MFG, [presets_dir()])
    assert stored is not None, "the MFG-VAE preset is missing"
    assert training_service().pretrained(tour.MFG)
    (box,) = status(at)
    assert "pre-trained, shipped with the app: nothing trains now" in box.value, box.value
    assert f"its training took {stored.train_seconds:.1f} s" in box.value, box.value
    assert not train_calls


def test_a_run_trained_now_says_how_long_it_took_and_not_pre_trained(train_calls):  # noqa: F811
    at = train_small(open_page(new_session(), "train & explore"), train_calls)
    (config,) = train_calls[0]
    assert config.steps == SMALL_STEPS and not training_service().pretrained(config)
    (box,) = status(at)
    assert "; training took " in box.value and "pre-trained" not in box.value, box.value


# ----- a reload mid-training -----------------------------------------------------------------

RELOADED = {"steps": "3000", "early": "0"}  # long enough to reload while it trains


def wait_for_progress(at) -> str:
    """Rerun (as the progress fragment does) until the page shows a step; its progress text."""
    deadline = time.monotonic() + TIMEOUT
    while not (at.get("progress") and "step" in at.get("progress")[0].proto.text):
        assert time.monotonic() < deadline, "no progress shown"
        time.sleep(0.2)
        at.run()
        assert_no_exception(at)
    return at.get("progress")[0].proto.text


def browser_session(name: str) -> AppTest:
    """A fresh session with its own id: every AppTest has Streamlit's one "test session id",
    and the service keeps one request per session, so two AppTests would share a ticket."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[SESSION_ID] = name
    at.run()
    assert_no_exception(at)
    return at


def test_a_reload_mid_training_shows_the_run_and_its_result_without_a_second_train(train_calls):  # noqa: F811
    first = open_page(browser_session("before the reload"), "train & explore", RELOADED)
    (train,) = buttons(first, "Train")
    train.click().run()
    wait_for_progress(first)
    (old_ticket,) = first.session_state["_tickets.train"].values()

    # The reload: a new browser session (empty session state) on the same URL.
    reloaded = open_page(browser_session("after the reload"), "train & explore", RELOADED)
    assert not any("Not trained yet" in box.value for box in reloaded.info)
    assert not buttons(reloaded, "Train"), "the page offers a second Train for a run in progress"
    assert buttons(reloaded, "Stop") and buttons(reloaded, "Pause"), "the run's controls"
    assert "of at most 3000" in wait_for_progress(reloaded)
    training_service().release(old_ticket)  # the old tab is gone: the run trains on for the new one

    run_until_trained(reloaded)
    reloaded.run()
    assert_no_exception(reloaded)
    (box,) = status(reloaded)
    assert "; training took " in box.value and "pre-trained" not in box.value, box.value
    assert len(train_calls) == 1, "one training for both sessions"
    (config,) = train_calls[0]
    assert config.steps == 3000


def test_a_new_session_does_not_start_or_join_anything_by_itself(train_calls):  # noqa: F811
    """Re-attaching joins a run in progress only: an untrained config still waits for Train."""
    at = open_page(new_session(), "train & explore", RELOADED)
    assert any("Not trained yet" in box.value for box in at.info)
    assert buttons(at, "Train") and not training_service().jobs


def test_a_session_with_its_own_run_does_not_join_another_config_it_looks_at(train_calls):  # noqa: F811
    """Joining releases the session's own run (one request per session), so the page must not
    join a run of the config it now shows while its own still trains: a slider moved is not a
    Train press."""
    mine = open_page(browser_session("mine"), "train & explore", RELOADED)
    (train,) = buttons(mine, "Train")
    train.click().run()
    wait_for_progress(mine)
    (my_ticket,) = mine.session_state["_tickets.train"].values()
    theirs = open_page(browser_session("theirs"), "train & explore", {**RELOADED, "seed": "1"})
    (train,) = buttons(theirs, "Train")
    train.click().run()
    wait_for_progress(theirs)

    mine.number_input(key="w.train.seed").set_value(1).run()  # look at their config
    assert_no_exception(mine)
    assert list(mine.session_state["_tickets.train"].values()) == [my_ticket], "joined theirs"
    assert training_service().status(my_ticket).state in ("training", "queued", "starting")
    assert buttons(mine, "Train") and any("Not trained yet" in box.value for box in mine.info)
    for at in (mine, theirs):
        for ticket in at.session_state["_tickets.train"].values():
            training_service().stop(ticket)


def test_converged_below_the_paper_noise_says_what_it_does_not_promise(monkeypatch):
    """σ = 0.03: 'converged' carries the measured caveat; at σ = 0.1 the promise holds."""
    import dataclasses

    import streamlit as st

    from dashboard import training_panel
    from vae_core import convergence
    from vae_core.cache import lookup, presets_dir
    from vae_core.config import TrainConfig

    shown = {}
    for noise_std in (0.1, 0.03):
        config = TrainConfig(noise_std=noise_std, steps=convergence.step_budget(noise_std))
        preset = lookup(config, [presets_dir()])
        result = dataclasses.replace(
            preset, status=convergence.CONVERGED, metrics={**preset.metrics, "likelihood_gap_to_truth": 0.0}
        )
        monkeypatch.setattr(
            st, "success", lambda text, noise_std=noise_std, **_: shown.update({noise_std: text})
        )
        training_panel.show_outcome(result)
    assert "converged after" in shown[0.1] and "converged after" in shown[0.03]
    assert convergence.CONVERGED_CAVEAT not in shown[0.1]
    assert convergence.CONVERGED_CAVEAT in shown[0.03]
