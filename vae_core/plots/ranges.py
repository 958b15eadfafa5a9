"""Where the figures evaluate their curves: THE one z-range of q(z|y) and p_θ(z|y) (the live
view and the Posteriors tab draw a posterior on the same axis), the prior's bulk, and y grids.
"""

from __future__ import annotations

import numpy as np
import torch

from vae_core import exact
from vae_core.ground_truth import y_grid

U_GRID = (np.arange(400) + 0.5) / 400  # the true latent u, on which decoders are compared
LIVE_Y_NODES = 301
HEATMAP_Y = np.linspace(-0.1, 0.35, 181)  # the live view's clickable heat map of p(z|y)
HEATMAP_Z = np.linspace(0.0, 1.0, 201)
POSTERIOR_TAIL = 1e-3  # the mass of q(z|y) and of p_θ(z|y) a posterior's z-range may leave out
Q_CDF_NODES = 20001


def posterior_ranges(model, y_values) -> list[tuple[float, float]]:
    """Per y: the z-interval holding all but POSTERIOR_TAIL of q(z|y) and of p_θ(z|y), padded
    by 10 %.

    From the mass, not from every component ± a few scales (nor the prior's bulk): a far-out
    component of weight 1/M or a very wide one would otherwise stretch the axis until every
    curve is a needle.
    """
    q = model.posterior(torch.tensor([list(y_values)], dtype=torch.float32))
    locs, scales = q.locs.detach().double()[0], q.scales.detach().double()[0]
    grid, spacing = exact.latent_grid(model)
    p_cdf = (exact.posterior(model, list(y_values), grid)[0] * spacing).cumsum(dim=-1)
    ranges = []
    for index in range(len(y_values)):
        # q's CDF on a grid over its components' ± 10 scales, p_θ's on the model's own grid.
        q_grid = torch.linspace(
            (locs[index] - 10 * scales[index]).min().item(),
            (locs[index] + 10 * scales[index]).max().item(),
            Q_CDF_NODES,
            dtype=torch.float64,
        )
        q_cdf = type(q)(locs[index], scales[index]).cdf(q_grid)
        ends = _mass_ends(q_grid, q_cdf) + _mass_ends(grid, p_cdf[index])
        low, high = (min(ends), max(ends)) if ends else (-3.0, 3.0)
        pad = 0.1 * (high - low) + 1e-3
        ranges.append((low - pad, high + pad))
    return ranges


def _mass_ends(points: torch.Tensor, cdf: torch.Tensor) -> list[float]:
    """The first and last point strictly inside the central 1 − POSTERIOR_TAIL of a CDF."""
    half = POSTERIOR_TAIL / 2
    where = torch.nonzero((cdf > half) & (cdf < 1 - half)).flatten()
    return [points[where[0]].item(), points[where[-1]].item()] if len(where) else []


def posterior_z_points(model, y: float, n_points: int) -> np.ndarray:
    """n_points z on `posterior_ranges` of one y."""
    low, high = posterior_ranges(model, [y])[0]
    return np.linspace(low, high, n_points)


def prior_z_points(model, levels: tuple[float, float], n_points: int, pad: float = 0.0) -> np.ndarray:
    """n_points z between the prior's quantiles `levels`, widened by `pad` of that width each side."""
    low, high = model.prior_quantile(list(levels))[0].tolist()
    margin = pad * (high - low)
    return np.linspace(low - margin, high + margin, n_points)


def marginal_y_grid(noise_std: float) -> np.ndarray:
    """The y of a finished run's p_θ(y) figures: f's range [0, 1/4] ± 4σ."""
    return y_grid(noise_std, 600, n_std=4.0)


def live_y_grid(noise_std: float) -> np.ndarray:
    """The y-range of the live p(y) figure: f's range [0, 1/4] and 4σ either side."""
    return np.linspace(-4 * noise_std - 0.02, 0.27 + 4 * noise_std, LIVE_Y_NODES)
