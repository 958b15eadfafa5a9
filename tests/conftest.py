"""Shared fixtures and statistics helpers for the vae_core test suite.

Tolerances in these tests come from the maths: quadrature error bounds, or Monte Carlo
standard errors computed from the very samples being tested (a check at 5 standard errors
fails by chance with probability ~6e-7 per comparison).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_core import TrainConfig, train
from vae_core.distributions import POSTERIOR_SCALE_BOUNDS, raw_for_scale
from vae_core.training import build_model

# The networks are tiny, so the cost of a step is dispatch overhead. On a loaded 2-core machine
# intra-op threads spin against each other and a step can be ~50x slower than on one thread.
torch.set_num_threads(1)

COMBINATIONS = [
    ("gaussian", "gaussian"),
    ("gaussian", "mog"),
    ("mog", "gaussian"),
    ("mog", "mog"),
]
COMBINATION_IDS = [f"prior={p}-posterior={q}" for p, q in COMBINATIONS]

# Standard errors allowed between a Monte Carlo estimate and its target.
N_STANDARD_ERRORS = 5.0


def log_mean_exp_with_se(log_weights: torch.Tensor) -> tuple[float, float]:
    """log of the mean of exp(log_weights) and its standard error (delta method).

    With w = exp(log_weights): SE(log mean w) ≈ sd(w) / (sqrt(n) · mean w). Also asserts the
    effective sample size is large, so that the delta method (a normal approximation) is valid.
    """
    log_weights = log_weights.double().flatten()
    n = log_weights.numel()
    shift = log_weights.max()
    w = torch.exp(log_weights - shift)
    mean = w.mean()
    se = (w.std() / (math.sqrt(n) * mean)).item()
    effective_sample_size = (w.sum() ** 2 / (w**2).sum()).item()
    assert effective_sample_size > 1000, f"importance weights degenerate (ESS {effective_sample_size:.0f})"
    return (torch.log(mean) + shift).item(), se


def mean_with_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64).ravel()
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


@pytest.fixture(scope="session")
def default_results():
    """One model per prior/posterior combination, trained on the default TrainConfig (σ = 0.1)."""
    return {
        (prior, posterior): train(TrainConfig(prior=prior, posterior=posterior))
        for prior, posterior in COMBINATIONS
    }


@pytest.fixture(scope="session")
def short_runs():
    """One short run per prior/posterior combination (200 steps: shapes, not convergence),
    shared by the figure tests."""
    return {
        combo: train(TrainConfig(prior=combo[0], posterior=combo[1], steps=200, seed=3))
        for combo in COMBINATIONS
    }


def normal_pdf(z, loc, scale):
    return np.exp(-0.5 * ((np.asarray(z) - loc) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))


def fixed_posterior_model(locs, scale: float, prior: str = "gaussian", noise_std: float = 0.1):
    """A model whose encoder ignores y: q(z|y) = (1/M) Σ N(locs[i], scale²) for every y."""
    posterior = "mog" if len(locs) > 1 else "gaussian"
    config = TrainConfig(
        prior=prior, posterior=posterior, n_components=max(len(locs), 2), noise_std=noise_std
    )
    if posterior == "mog":
        config = config.replace(n_components=len(locs))
    model = build_model([config])
    with torch.no_grad():
        model.encoder.weights[-1].zero_()
        bias = model.encoder.biases[-1]
        m = len(locs)
        bias[0, 0, :m] = torch.tensor(locs, dtype=torch.float32)
        bias[0, 0, m:] = raw_for_scale(scale, POSTERIOR_SCALE_BOUNDS)
    return model, config


# Session-wide fixtures that train models: their users share one xdist worker.
SHARED_TRAININGS = ("default_results", "short_runs")


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`--dist loadgroup`, as scripts/test.sh runs it), keep each file on one
    worker, so a module's fixtures are built once, and every user of a session-wide trained
    fixture on the worker that trained it: training them twice would cost more than the split wins."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        group = next((name for name in SHARED_TRAININGS if name in fixtures), item.module.__name__)
        item.add_marker(pytest.mark.xdist_group(group))
