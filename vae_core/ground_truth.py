"""The data-generating process of the paper (docs/ground-truth.md) and its exact densities.

z ~ U(0, 1), y | z ~ N(f(z), noise_std²). Every density here is computed by quadrature over
z in [0, 1], so the dashboard can compare any learned model with the exact truth.
"""

from __future__ import annotations

import math

import numpy as np
import torch

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

# Midpoint nodes on [0, 1]. f has slope at most 2, so the integrand N(y; f(z), σ²) varies on a
# z-scale of σ/2; 8000 nodes keep the midpoint error of log p(y) below ~3e-4 at σ = 0.01.
N_QUADRATURE_NODES = 8000


def f(z):
    """True decoder: (2z − 0.5)² for z < 0.5, (2z − 1.5)² for z ≥ 0.5. Works on numpy or torch."""
    lib = torch if isinstance(z, torch.Tensor) else np
    return lib.where(z < 0.5, (2 * z - 0.5) ** 2, (2 * z - 1.5) ** 2)


def sample(n: int, noise_std: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw n pairs (z, y) from the ground truth, reproducibly from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.rand(n, generator=generator, dtype=torch.float64)
    y = f(z) + noise_std * torch.randn(n, generator=generator, dtype=torch.float64)
    return z, y


def quadrature_nodes(n_nodes: int = N_QUADRATURE_NODES) -> torch.Tensor:
    """Midpoints of n equal cells of [0, 1]; each carries weight 1/n (the U(0,1) density is 1)."""
    return (torch.arange(n_nodes, dtype=torch.float64) + 0.5) / n_nodes


def _log_likelihood_grid(y, z_grid, noise_std: float) -> torch.Tensor:
    """log N(y_i; f(z_j), σ²) as a (len(y), len(z)) matrix."""
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)
    z = torch.as_tensor(z_grid, dtype=torch.float64).reshape(1, -1)
    standardised = (y - f(z)) / noise_std
    return -0.5 * standardised**2 - math.log(noise_std) - LOG_SQRT_2PI


def log_marginal(y, noise_std: float, n_nodes: int = N_QUADRATURE_NODES) -> torch.Tensor:
    """Exact log p(y) = log ∫₀¹ N(y; f(z), σ²) dz by the midpoint rule, for each y."""
    log_lik = _log_likelihood_grid(y, quadrature_nodes(n_nodes), noise_std)
    return torch.logsumexp(log_lik, dim=1) - math.log(n_nodes)


def posterior_grid(y, noise_std: float, z_grid) -> torch.Tensor:
    """Exact p(z | y) on `z_grid` (points inside [0, 1]), one row per y.

    Rows are normalised so that the trapezoid rule over `z_grid` integrates each to 1; the
    normaliser is p(y) up to the grid's quadrature error, which this removes.
    """
    z_grid = torch.as_tensor(z_grid, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)
    # −(y − f(z))²/2σ², in place: the constants of log N cancel in the normalisation, and
    # fewer full-size temporaries keep 1000 y × 1000 z well under 50 ms on one core.
    log_lik = (y - f(z_grid)).square_().mul_(-0.5 / noise_std**2)
    inside = (z_grid >= 0) & (z_grid <= 1)
    if not bool(inside.all()):
        log_lik.masked_fill_(~inside, -math.inf)
    unnormalised = log_lik.sub_(log_lik.max(dim=1, keepdim=True).values).exp_()
    mass = torch.trapezoid(unnormalised, z_grid, dim=1).unsqueeze(1)
    return unnormalised.div_(mass)


def marginal_moments(noise_std: float, n_nodes: int = N_QUADRATURE_NODES) -> tuple[float, float]:
    """Exact mean and standard deviation of y: E[f(U)] and Var f(U) + σ²."""
    values = f(quadrature_nodes(n_nodes))
    mean = values.mean().item()
    variance = values.var(unbiased=False).item() + noise_std**2
    return mean, math.sqrt(variance)


def quantiles_of_f(levels) -> np.ndarray:
    """Quantile function of f(U), U ~ U(0, 1), at levels in [0, 1].

    Each v in [0, 1/4] has four preimages under f, and {z : f(z) ≤ v} is two intervals of
    length sqrt(v)/2 + sqrt(v)/2, so P(f(U) ≤ v) = 2·sqrt(v) and the quantile is (t/2)².
    """
    levels = np.asarray(levels, dtype=np.float64)
    return (levels / 2.0) ** 2
