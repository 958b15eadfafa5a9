"""What bench_train trains with both trainers, and when a model counts as converged, as good and
as fast enough.

The paper comparison: MFG-VAE, MoG posterior, MoG prior; M = 10, σ = 0.1, seeds 0-2 (9 models),
the default TrainConfig otherwise.
"""

from __future__ import annotations

from vae_core.config import TrainConfig
from vae_core.paper import PAPER_MODELS, PAPER_N_COMPONENTS, PAPER_NOISE_STD

SEEDS = (0, 1, 2)
QUALITY_NATS = 0.01  # project vs reference, mean test log p_θ(y) per model type
CONVERGED_NATS = 0.01  # a model vs the ground truth's mean test log p(y)
TARGET_SINGLE_SECONDS = 1.5  # one default model, train(TrainConfig())
TARGET_PAPER_SECONDS = 6.0  # the 9 models with the project
SLOW_REFERENCE_SECONDS = 150.0  # above this per repetition, fewer reference repetitions
DEFAULT_THREADS_TIMEOUT = 120  # s: the one extra run at torch's default thread count


def paper_configs() -> list[TrainConfig]:
    """The 9 configs, model type by model type, seeds in order (the report slices them so)."""
    return [
        TrainConfig(
            prior=prior,
            posterior=posterior,
            n_components=PAPER_N_COMPONENTS,
            noise_std=PAPER_NOISE_STD,
            seed=seed,
        )
        for prior, posterior in PAPER_MODELS
        for seed in SEEDS
    ]


def model_type_name(prior: str, posterior: str) -> str:
    return TrainConfig(prior=prior, posterior=posterior).model_name


def label(config: TrainConfig) -> str:
    return f"{config.model_name}, seed {config.seed}"
