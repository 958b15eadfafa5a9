"""TrainConfig and the app's settings: one source of truth, no config that changes itself."""

import dataclasses

import pytest

from vae_core import cli
from vae_core.config import (
    APP_RANGES,
    ENSEMBLE_FIELDS,
    HIDDEN_WIDTHS,
    LEARNING_RATES,
    LIMITS,
    NOISE_LEVELS,
    TrainConfig,
)
from vae_core.paper import PAPER_N_COMPONENTS, PAPER_NOISE_STD

MFG = TrainConfig(prior="gaussian", posterior="gaussian")


def test_defaults_are_the_papers_and_are_kept_as_given():
    assert TrainConfig().n_components == PAPER_N_COMPONENTS == 10
    assert TrainConfig().noise_std == PAPER_NOISE_STD == 0.1
    assert TrainConfig().replace(posterior="mog").n_components == 10
    assert TrainConfig(n_components=7).n_components == 7  # MFG-VAE too: nothing is rewritten


def test_cli_defaults_to_the_papers_m():
    args = cli.build_parser().parse_args(["train", "--posterior", "mog"])
    assert args.components == 10 and args.noise_std == PAPER_NOISE_STD


def test_m_is_ignored_only_where_nothing_is_a_mixture():
    assert MFG.replace(n_components=3).key() == MFG.replace(n_components=10).key()
    assert MFG.replace(n_components=3).ensemble_key() == MFG.replace(n_components=10).ensemble_key()
    for prior, posterior in [("gaussian", "mog"), ("mog", "gaussian"), ("mog", "mog")]:
        config = TrainConfig(prior=prior, posterior=posterior)
        assert config.replace(n_components=3).key() != config.key()
        assert config.replace(n_components=3).ensemble_key() != config.ensemble_key()


def test_key_follows_every_other_field():
    base = TrainConfig(prior="mog")
    changed = {
        "prior": "gaussian",
        "posterior": "mog",
        "noise_std": 0.05,
        "n_train": 500,
        "n_test": 500,
        "hidden": 20,
        "steps": 500,
        "batch_size": 50,
        "lr": 0.02,
        "samples_per_component": 2,
        "seed": 1,
        "data_seed": 1,
        "early_stop": False,
        "eval_every": 50,
        "bounded_scales": False,
    }
    assert set(changed) == {f.name for f in dataclasses.fields(TrainConfig)} - {"n_components"}
    keys = {base.replace(**{name: value}).key() for name, value in changed.items()}
    assert len(keys | {base.key()}) == len(changed) + 1


def test_ensemble_key_follows_the_shapes_only():
    """What trains together: equal shapes; seeds, σ, lr, steps, stopping and n_test are per member."""
    base = TrainConfig(prior="mog")
    per_member = {
        "noise_std": 0.05,
        "n_test": 500,
        "steps": 500,
        "lr": 0.02,
        "seed": 1,
        "data_seed": 1,
        "early_stop": False,
        "eval_every": 50,
    }
    shapes = {
        "prior": "gaussian",
        "posterior": "mog",
        "n_components": 3,
        "hidden": 20,
        "batch_size": 50,
        "samples_per_component": 2,
        "n_train": 500,
        "bounded_scales": False,
    }
    assert set(per_member) | set(shapes) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(shapes) == set(ENSEMBLE_FIELDS)
    for name, value in per_member.items():
        assert base.replace(**{name: value}).ensemble_key() == base.ensemble_key(), name
    for name, value in shapes.items():
        assert base.replace(**{name: value}).ensemble_key() != base.ensemble_key(), name


def test_the_apps_choices_and_ranges_lie_within_what_the_library_accepts():
    offered = {"noise_std": NOISE_LEVELS, "lr": LEARNING_RATES, "hidden": HIDDEN_WIDTHS, **APP_RANGES}
    defaults = TrainConfig()
    for name, values in offered.items():
        low, high = LIMITS[name]
        assert all(low <= v <= high for v in values), name
        if name in APP_RANGES:
            assert values[0] <= getattr(defaults, name) <= values[1], name
        else:
            assert getattr(defaults, name) in values, name


@pytest.mark.parametrize(
    "field, value", [("noise_std", 0.0), ("n_components", 0), ("prior", "cauchy"), ("batch_size", 5000)]
)
def test_a_bad_value_is_refused_with_its_reason(field, value):
    with pytest.raises(ValueError, match=field if field != "batch_size" else "n_train"):
        TrainConfig(**{field: value})
