"""The shipped presets are what today's code trains: they cannot drift from the training code."""

import pytest

from vae_core.cache import load_result, presets_dir
from vae_core.paper import preset_configs
from vae_core.training import train

# Presets are trained as ensembles of seeds side by side; a member's numbers are the same alone
# (vae_core.model.batched_affine), so a retrained preset differs from the shipped one at most by
# another CPU's or BLAS's rounding. A change to the training code, data, initialisation or
# metrics moves them by far more (different seeds differ by 1e-3 or more), and the app shows 4
# decimals.
METRIC_TOLERANCE = 1e-4


def shipped():
    """(config, stored result) for every preset; a missing one is a failure of its own test."""
    return [(config, load_result(config, presets_dir())) for config in preset_configs()]


def test_every_preset_is_shipped_and_readable():
    missing = [config for config, result in shipped() if result is None]
    assert not missing, f"not in {presets_dir()} (rebuild: python -m vae_core presets): {missing}"


def cost(config, result) -> int:
    """Steps × z-samples per y: what retraining this preset costs, roughly."""
    components = config.n_components if config.posterior == "mog" else 1
    return result.steps_run * components * config.samples_per_component


def test_retraining_the_cheapest_preset_reproduces_it():
    candidates = [(config, result) for config, result in shipped() if result is not None]
    assert candidates
    config, stored = min(candidates, key=lambda pair: cost(*pair))
    retrained = train(config)
    assert (retrained.status, retrained.steps_run) == (stored.status, stored.steps_run)
    assert retrained.metrics.keys() == stored.metrics.keys()
    for name, value in stored.metrics.items():
        assert retrained.metrics[name] == pytest.approx(value, abs=METRIC_TOLERANCE), name
