"""dashboard/training_panel.py in AppTest: what a finished run's status box says (a preset was
not trained now), and a page reloaded mid-training that finds its run again."""

from __future__ import annotations

from test_app_pages import (  # noqa: F401  (train_calls is a fixture)
    SMALL_STEPS,
    new_session,
    open_page,
    status,
    train_calls,
    train_small,
)

from dashboard.service_client import training_service
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
