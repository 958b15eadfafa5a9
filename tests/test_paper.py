"""The paper's settings (vae_core.paper): one list of y, the models, the shipped comparison."""

from vae_core.config import TrainConfig
from vae_core.paper import (
    DEFAULT_SEEDS,
    MODEL_NAMES,
    PAPER_MODELS,
    PAPER_Y_VALUES,
    PRESET_NOISE_STDS,
    SHOWN_Y_VALUES,
    comparison_configs,
    preset_configs,
    y_values_text,
)


def test_the_shown_y_are_the_papers_plus_one_inside_the_data():
    assert PAPER_Y_VALUES == (1.0, 0.2, -3.0)
    assert SHOWN_Y_VALUES == (1.0, 0.2, 0.05, -3.0)
    assert y_values_text(PAPER_Y_VALUES) == "1, 0.2, −3"


def test_the_comparison_is_every_model_on_the_same_seeds_in_the_papers_order():
    configs = comparison_configs()
    assert list(configs) == [MODEL_NAMES[pair] for pair in PAPER_MODELS] + [MODEL_NAMES[("mog", "mog")]]
    for name, per_seed in configs.items():
        assert [c.seed for c in per_seed] == list(DEFAULT_SEEDS)
        assert all(c.model_name == name for c in per_seed)
        assert all(
            c.replace(prior="gaussian", posterior="gaussian", seed=0) == TrainConfig() for c in per_seed
        )


def test_the_presets_are_the_comparison_at_each_preset_noise_level():
    presets = preset_configs()
    assert len(presets) == len(PRESET_NOISE_STDS) * len(MODEL_NAMES) * len(DEFAULT_SEEDS) == 40
    assert len({c.key() for c in presets}) == len(presets)
