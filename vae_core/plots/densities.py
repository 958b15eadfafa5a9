"""Densities the figures draw that the model does not tabulate itself: a mixture's components at
1/M of their height, and the aggregate posterior q(z) = E_y q(z|y) by quadrature over the true
p(y). Cheap enough to redraw live (the quadrature weights are computed once per σ)."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from vae_core import ground_truth

AGGREGATE_Y_NODES = 201


def prior_components(model, z) -> np.ndarray:
    """Each prior component's share (1/M) N(z; μᵢ, σᵢ²): rows sum to the prior density."""
    prior = model.prior_distribution()
    return _weighted_components(prior.locs[0], prior.scales[0], z)


def posterior_components(model, y: float, z) -> np.ndarray:
    """q(z|y)'s components (1/M) N(z; μᵢ(y), σᵢ(y)²): rows sum to q(z|y)."""
    with torch.no_grad():
        posterior = model.posterior(torch.tensor([[y]], dtype=torch.float32))
    return _weighted_components(posterior.locs[0, 0], posterior.scales[0, 0], z)


def _weighted_components(locs: torch.Tensor, scales: torch.Tensor, z) -> np.ndarray:
    locs = locs.detach().double().numpy()[:, None]
    scales = scales.detach().double().numpy()[:, None]
    z = np.asarray(z, dtype=np.float64)[None, :]
    density = np.exp(-0.5 * ((z - locs) / scales) ** 2) / (scales * math.sqrt(2 * math.pi))
    return density / locs.shape[0]


def aggregate_posterior(model, noise_std: float, z) -> np.ndarray:
    """q(z) = E_{y ~ p(y)} q(z|y) at the points z, by quadrature over the true p(y)."""
    y, weights = aggregate_weights(noise_std)
    q = model.posterior_density(y, np.asarray(z, dtype=np.float64))[0].numpy()  # (len(y), len(z))
    return weights @ q


@functools.lru_cache(maxsize=16)
def aggregate_weights(noise_std: float) -> tuple[np.ndarray, np.ndarray]:
    """y-nodes and trapezoid weights w_i with Σ w_i g(y_i) ≈ ∫ g(y) p(y) dy, Σ w_i = 1.

    The y-range holds all but ~1e-15 of p(y) (f's range ± 8σ); normalising the weights removes
    the trapezoid error in the mass, so the aggregate posterior integrates to that of q.
    """
    y = np.linspace(-8 * noise_std, 0.25 + 8 * noise_std, AGGREGATE_Y_NODES)
    density = torch.exp(ground_truth.log_marginal(y, noise_std)).numpy()
    trapezoid = np.full(y.shape, y[1] - y[0])
    trapezoid[[0, -1]] *= 0.5
    weights = density * trapezoid
    return y, weights / weights.sum()
