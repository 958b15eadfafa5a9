"""The encoder itself: what q(z|y) answers as y moves, over the model's own exact p_θ(z|y).

A heat map of p_θ(z|y) over (y, z), the posterior the encoder is trained to match (exact, by
quadrature), with q(z|y)'s mean ± one standard deviation drawn on it and, for a mixture
posterior, the mean of every component. Where the heat map has several bright bands and q
follows only one, the encoder has missed modes; where q's band does not move with y, it ignores
y (the paper's "q(z|y) barely changes"). Pure functions, no streamlit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from vae_core import exact
from vae_core.plots.ranges import marginal_y_grid
from vae_core.plots.style import EXACT_COLOR, color_of, curve, faint, hover, layout

ENCODER_Y_POINTS = 121  # columns of the heat map: finer than any feature of q over y here
ENCODER_Z_POINTS = 301
# The z-range shown holds all but this mass of p_θ(z|y) at every y of the view, padded by 10 %:
# from the exact posterior's mass, not the prior's, whose wide or far components would squash
# the picture into a line (q's band may leave the axis there; that is what it does).
ENCODER_Z_TAIL = 1e-3


def encoder_y_grid(noise_std: float) -> np.ndarray:
    """The y of the encoder view: the data's range ± 4σ, as the p_θ(y) figures."""
    grid = marginal_y_grid(noise_std)
    return np.linspace(grid[0], grid[-1], ENCODER_Y_POINTS)


@torch.no_grad()
def encoder_z_points(model, y: np.ndarray) -> np.ndarray:
    """ENCODER_Z_POINTS z over the central 1 − ENCODER_Z_TAIL of p_θ(z|y) for every y, padded."""
    grid, spacing = exact.latent_grid(model)
    cdf = (exact.posterior(model, torch.as_tensor(y), grid)[0] * spacing).cumsum(dim=-1)
    inside = ((cdf > ENCODER_Z_TAIL / 2) & (cdf < 1 - ENCODER_Z_TAIL / 2)).any(dim=0)
    where = torch.nonzero(inside).flatten()
    low, high = (grid[where[0]].item(), grid[where[-1]].item()) if len(where) else (-3.0, 3.0)
    pad = 0.1 * (high - low) + 1e-3
    return np.linspace(low - pad, high + pad, ENCODER_Z_POINTS)


@torch.no_grad()
def q_moments(model, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q(z|y)'s mean and standard deviation at each y, and its components' means (N, M).

    For the equal-weight mixture: mean = the components' average mean, variance = the average
    of scale² + loc² minus mean² (the law of total variance)."""
    posterior = model.posterior(torch.as_tensor(y, dtype=torch.float32).unsqueeze(0))
    locs, scales = posterior.locs[0].double(), posterior.scales[0].double()
    mean = locs.mean(dim=-1)
    variance = (scales**2 + locs**2).mean(dim=-1) - mean**2
    return mean.numpy(), variance.clamp_min(0).sqrt().numpy(), locs.numpy()


@torch.no_grad()
def exact_posterior_moments(model, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and standard deviation of the model's exact p_θ(z|y) at each y (quadrature on
    the model's latent grid, the grid of every exact number of the app)."""
    grid, _ = exact.latent_grid(model)
    y_batch = exact.as_member_batch(model, torch.as_tensor(y, dtype=torch.float64))
    weights = torch.softmax(exact.log_joint_on_grid(model, y_batch, grid)[0], dim=-1)
    mean = weights @ grid
    variance = weights @ grid**2 - mean**2
    return mean.numpy(), variance.clamp_min(0).sqrt().numpy()


def encoder_figure(result) -> go.Figure:
    """q(z|y) against y over the heat map of the exact p_θ(z|y) (see the module docstring)."""
    model, config = result.model, result.config
    y = encoder_y_grid(config.noise_std)
    z = encoder_z_points(model, y)
    density = exact.posterior(model, torch.as_tensor(y), z)[0].numpy()  # (y, z)
    fig = go.Figure()
    fig.add_heatmap(
        x=y,
        y=z,
        z=density.T,
        colorscale="Greys",
        colorbar=dict(title="p_θ(z|y)", len=0.8),
        name="exact p_θ(z|y)",
        hovertemplate=hover(
            "exact p_θ(z|y)", "exact_posterior", point="y = %{x:.3f}, z = %{y:.3f}: p_θ(z|y) = %{z:.2f}"
        ),
    )
    _add_exact_moments(fig, model, y)
    _add_q(fig, result, y)
    fig.update_xaxes(title="y")
    fig.update_yaxes(title="z (the model's latent)", range=[z[0], z[-1]])
    return layout(fig, f"The encoder: q(z|y) as y moves, over the exact p_θ(z|y) ({config.model_name})", 460)


def _add_q(fig: go.Figure, result, y: np.ndarray) -> None:
    mean, std, component_means = q_moments(result.model, y)
    color = color_of(result)
    fig.add_scatter(
        x=np.concatenate([y, y[::-1]]),
        y=np.concatenate([mean + std, (mean - std)[::-1]]),
        fill="toself",
        fillcolor=faint(color, 0.12),
        line=dict(width=0),
        name="q(z|y): mean ± std",
        hovertemplate=hover("q(z|y): mean ± std", "encoder_mean", "y", "z"),
    )
    fig.add_trace(curve(y, mean, "q(z|y): mean", "encoder_mean", color, width=3, xname="y", yname="z"))
    if component_means.shape[-1] > 1:
        for index in range(component_means.shape[-1]):
            fig.add_trace(
                curve(
                    y,
                    component_means[:, index],
                    "q(z|y): component means",
                    "encoder_component",
                    color,
                    dash="dot",
                    width=1.2,
                    xname="y",
                    yname="z",
                    legendgroup="components",
                    showlegend=index == 0,
                )
            )


def _add_exact_moments(fig: go.Figure, model, y: np.ndarray) -> None:
    mean, std = exact_posterior_moments(model, y)
    for values, name, show in (
        (mean, "exact p_θ(z|y): mean ± std", True),
        (mean + std, "", False),
        (mean - std, "", False),
    ):
        fig.add_trace(
            curve(
                y,
                values,
                name or "exact p_θ(z|y): mean ± std",
                "exact_posterior_moments",
                EXACT_COLOR,
                dash="dash" if show else "dot",
                width=2.5 if show else 1.2,
                xname="y",
                yname="z",
                legendgroup="exact",
                showlegend=show,
            )
        )
