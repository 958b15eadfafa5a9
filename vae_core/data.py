"""The data of a config: training, test and validation y, all fixed by data_seed and σ.

Kept apart from training so that figures, metrics and the training service can regenerate a
config's data without importing the trainer.
"""

from __future__ import annotations

import torch

from vae_core import ground_truth
from vae_core.config import TrainConfig

VALIDATION_POINTS = 200  # held-out y (not the test set) for the history and the early stop
TEST_SEED_OFFSET = 1_000_003
VALIDATION_SEED_OFFSET = 2_000_003


def training_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(train y, test y) of a config: fixed by data_seed, noise_std and the sizes."""
    _, train_y = ground_truth.sample(config.n_train, config.noise_std, config.data_seed)
    _, test_y = ground_truth.sample(config.n_test, config.noise_std, config.data_seed + TEST_SEED_OFFSET)
    return train_y, test_y


def validation_data(config: TrainConfig) -> torch.Tensor:
    """Held-out y for the periodic evaluations and early stopping, disjoint from the test set,
    so the reported test metrics are not those of the data that chose when to stop."""
    _, valid_y = ground_truth.sample(
        VALIDATION_POINTS, config.noise_std, config.data_seed + VALIDATION_SEED_OFFSET
    )
    return valid_y
