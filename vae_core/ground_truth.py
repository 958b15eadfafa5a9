"""The data-generating process of the paper (docs/ground-truth.md) and its exact densities.

z ~ U(0, 1), y | z ~ N(f(z), noise_std²). Every density here is computed by quadrature over
z in [0, 1], so the dashboard can compare any learned model with the exact truth.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vae_core.distributions import normal_log_prob

# Midpoint nodes on [0, 1] for the moments of f(U) (a polynomial on each half: error ~1e-9).
N_QUADRATURE_NODES = 8000
# Every density of y and of the latent is computed in t = √f(z), which is uniform on [0, ½]
# (each quarter of [0, 1] maps onto [0, ½] one-to-one, e.g. t = ½ − 2z on [0, ¼]), so
# p(y) = 2 ∫₀^½ N(y; t², σ²) dt and p(t | y) ∝ N(y; t², σ²): a single bump in t, at √y for y
# in f's range [0, ¼] and at an end of [0, ½] otherwise. Per y, a uniform base grid over [0, ½]
# is merged with a window of WINDOW_NODES nodes across the bump (± WINDOW_WIDTHS of its
# width), so the bump is resolved whatever σ and y: at σ = 0.01 and y = 1 it is 7e-5 wide.
BASE_NODES = 2001
WINDOW_NODES = 2001
WINDOW_WIDTHS = 30.0
ROWS_PER_BLOCK = 500  # y per block: (500 × 4002) float64 temporaries, ~16 MB each


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


def y_grid(noise_std: float, n_nodes: int = 1001, n_std: float = 8.0) -> np.ndarray:
    """Evenly spaced y over f's range [0, ¼] widened by n_std σ on both sides (8σ: where p(y)
    has all but ~1e-15 of its mass; plots use fewer)."""
    return np.linspace(-n_std * noise_std, 0.25 + n_std * noise_std, n_nodes)


def _bump_in_t(y: torch.Tensor, noise_std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and width of t ↦ N(y; t², σ²) on [0, ½], per y (see the module constants).

    Inside f's range the bump is Gaussian, centred at √y with width σ / (2√y) (no wider than
    √σ, its width at y = 0); below it, N(y; t², σ²) ∝ exp(−t²|y|/σ² − …) sits at t = 0 with
    width σ / √(2|y|); above, it rises to t = ½ over σ² / (y − ¼).
    """
    root_sigma = math.sqrt(noise_std)
    centre = y.clamp(0.0, 0.25).sqrt()
    inside = noise_std / (2 * centre.clamp(min=1e-300))
    below = noise_std / (2 * y.abs().clamp(min=1e-300)).sqrt()
    above = noise_std**2 / (y - 0.25).clamp(min=1e-300)
    width = torch.where(y < 0, below, torch.where(y > 0.25, torch.minimum(above, inside), inside))
    return centre, width.clamp(max=root_sigma)


def t_nodes(y, noise_std: float) -> torch.Tensor:
    """Sorted t-nodes in [0, ½] per y, resolving N(y; t², σ²): (len(y), BASE + WINDOW nodes)."""
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    centre, width = _bump_in_t(y, noise_std)
    low = (centre - WINDOW_WIDTHS * width).clamp(0.0, 0.5).unsqueeze(1)
    high = (centre + WINDOW_WIDTHS * width).clamp(0.0, 0.5).unsqueeze(1)
    window = low + (high - low) * torch.linspace(0, 1, WINDOW_NODES, dtype=torch.float64)
    base = torch.linspace(0, 0.5, BASE_NODES, dtype=torch.float64).expand(len(y), -1)
    # Base nodes inside the window move onto its start (zero-width panels add nothing), so the
    # grid is uniform across the window and at an end of [0, ½] that the window reaches.
    base = torch.where((base >= low) & (base <= high), low, base)
    return torch.cat([base, window], dim=1).sort(dim=1).values


def _log_likelihood_t(y: torch.Tensor, t: torch.Tensor, noise_std: float) -> torch.Tensor:
    """log N(y_i; t², σ²) for y (N,) and t (N, G) or (G,)."""
    sigma = torch.tensor(noise_std, dtype=torch.float64)
    return normal_log_prob(y.reshape(-1, 1), t**2, sigma)


def log_marginal(y, noise_std: float) -> torch.Tensor:
    """Exact log p(y) = log 2∫₀^½ N(y; t², σ²) dt (= log ∫₀¹ N(y; f(z), σ²) dz), for each y.

    The trapezoid rule on `t_nodes` with its end correction: error below 1e-6 relative at every
    allowed σ (tests/test_ground_truth.py checks it against a 2-million-node rule)."""
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    log_values = torch.empty_like(y)
    for start in range(0, len(y), ROWS_PER_BLOCK):
        rows = y[start : start + ROWS_PER_BLOCK]
        t = t_nodes(rows, noise_std)
        log_integrand = _log_likelihood_t(rows, t, noise_std)
        peak = log_integrand.max(dim=1, keepdim=True).values
        values = torch.exp(log_integrand - peak)
        # Euler–Maclaurin end correction −h²/12 · g'(½), g(t) = N(y; t², σ²), g' = g (y − t²) 2t / σ²:
        # above f's range the integrand is cut off at t = ½ while steep (g'(0) = 0 always).
        last_panel = t[:, -1] - t[:, -2]
        slope = values[:, -1] * (rows - 0.25) / noise_std**2
        mass = torch.trapezoid(values, t, dim=1) - last_panel**2 / 12 * slope
        log_values[start : start + ROWS_PER_BLOCK] = torch.log(2 * mass) + peak[:, 0]
    return log_values


def posterior_grid(y, noise_std: float, z_grid) -> torch.Tensor:
    """Exact p(z | y) = N(y; f(z), σ²) / p(y) at the points `z_grid`, one row per y; 0 outside
    [0, 1]. Pointwise exact at any z (no normalisation over the points asked for), so a coarse
    or narrow plotting grid cannot distort the heights."""
    z_grid = torch.as_tensor(z_grid, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)
    sigma = torch.tensor(noise_std, dtype=torch.float64)
    log_density = normal_log_prob(y, f(z_grid), sigma) - log_marginal(y, noise_std).unsqueeze(1)
    inside = (z_grid >= 0) & (z_grid <= 1)
    return torch.where(inside, torch.exp(log_density), torch.zeros_like(log_density))


def posterior_z_nodes(y, noise_std: float, n_base: int = 801) -> torch.Tensor:
    """z-points in [0, 1] to draw p(z | y) with: a uniform grid plus the four images of each
    y's t-window (z = ¼ ∓ t/2, ¾ ∓ t/2), so every mode is drawn at its true height."""
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    t = t_nodes(y, noise_std)[:, BASE_NODES - 1 :: 4].flatten()  # the windows, thinned
    images = torch.cat([0.25 - t / 2, 0.25 + t / 2, 0.75 - t / 2, 0.75 + t / 2])
    base = torch.linspace(0, 1, n_base, dtype=torch.float64)
    return torch.cat([base, images]).clamp(0, 1).unique()


def information(y, noise_std: float) -> float:
    """I(z; y) over the given y: E_i KL(p(·|y_i) ‖ mean_j p(·|y_j)), in nats.

    Computed in t (the quarter of [0, 1] that z lies in is independent of y, so I(z; y) =
    I(t; y)) on one t-grid for all y: the uniform base grid, plus the window of every y whose
    bump it does not resolve (y far outside f's range at small σ).
    """
    y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
    _, width = _bump_in_t(y, noise_std)
    base = torch.linspace(0, 0.5, BASE_NODES, dtype=torch.float64)
    narrow = width < 8 * (0.5 / (BASE_NODES - 1))
    t = torch.cat([base, t_nodes(y[narrow], noise_std).flatten()]).unique()
    sigma = torch.tensor(noise_std, dtype=torch.float64)
    log_p = log_marginal(y, noise_std)
    # log p(t | y_i) = log 2 + log N(y_i; t², σ²) − log p(y_i): t is uniform on [0, ½].
    log_posterior = normal_log_prob(y.unsqueeze(1), t**2, sigma) - log_p.unsqueeze(1) + math.log(2)
    aggregate = torch.logsumexp(log_posterior, dim=0) - math.log(len(y))
    integrand = torch.exp(log_posterior) * (log_posterior - aggregate)
    return torch.trapezoid(integrand, t, dim=1).mean().item()


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
