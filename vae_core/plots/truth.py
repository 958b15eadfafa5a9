"""Figures of the ground truth alone (the Ground truth page): f, p(y), the posterior p(z|y) as a
heat map and as slices. Pure functions, no streamlit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vae_core import ground_truth
from vae_core.ground_truth import y_grid
from vae_core.paper import SHOWN_Y_VALUES
from vae_core.plots.style import (
    HEATMAP_POINT,
    TRUTH,
    hover,
    layout,
    padded_rows,
    y_panel_grid,
    y_panel_place,
)

SLICE_ROW_HEIGHT = 300  # px each further row of posterior slices adds (more than 4 y values)


def true_decoder_figure() -> go.Figure:
    z = np.linspace(0, 1, 501)
    fig = go.Figure(
        go.Scatter(
            x=z,
            y=ground_truth.f(z),
            name="ground truth f(z)",
            line_color=TRUTH,
            hovertemplate=hover("ground truth f(z)", "truth_f", "z", "f(z)"),
        )
    )
    fig.update_xaxes(title="latent z ~ U(0, 1)")
    fig.update_yaxes(title="f(z) = E[y | z]")
    return layout(fig, "True decoder f(z): four z's for every y in (0, 0.25)", 380)


def true_marginal_figure(noise_std: float, data_y=None) -> go.Figure:
    grid = y_grid(noise_std)
    density = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig = go.Figure()
    if data_y is not None:
        fig.add_histogram(
            x=np.asarray(data_y),
            histnorm="probability density",
            name="sampled data y",
            hovertemplate=hover("sampled data y", "data", "y", "density"),
            marker_color="#aaaaaa",
            opacity=0.6,
            nbinsx=60,
        )
    fig.add_scatter(
        x=grid,
        y=density,
        name="exact p(y) (quadrature)",
        line_color=TRUTH,
        hovertemplate=hover("exact p(y)", "true_marginal", "y", "p(y)"),
    )
    fig.update_xaxes(title="observed y")
    fig.update_yaxes(title="density p(y)")
    return layout(fig, f"Marginal p(y) at σ = {noise_std:g}", 380)


def true_posterior_heatmap(noise_std: float, slice_y=(), n_y: int = 241, n_z: int = 301) -> go.Figure:
    """p(z | y) over (y, z), exact at every pixel; y spans the data (f's range ± 4σ), and the
    y's of the slices below are marked (those outside the range are named in the title)."""
    ys = y_grid(noise_std, n_y, n_std=4.0)
    zs = np.linspace(0, 1, n_z)
    density = ground_truth.posterior_grid(ys, noise_std, zs).numpy()
    # The colour saturates at the 99th percentile: the few pixels where p(y) is tiny and the
    # posterior a spike (the edges of f's range) would otherwise leave the rest dark.
    top = float(np.quantile(density, 0.99))
    fig = go.Figure(
        go.Heatmap(
            x=ys,
            y=zs,
            z=density.T,
            colorscale="Viridis",
            zmin=0,
            zmax=top,
            colorbar=dict(title=f"p(z|y)<br>(≥ {top:.3g}<br>saturates)"),
            hovertemplate=hover("ground truth p(z|y)", "true_posterior_map", point=HEATMAP_POINT),
        )
    )
    inside = [y for y in slice_y if ys[0] <= y <= ys[-1]]
    for y in inside:
        fig.add_vline(
            x=y,
            line=dict(color="white", dash="dash", width=2),
            annotation_text=f"y = {y:g}",
            annotation_font_color="white",
        )
    outside = [f"{y:g}" for y in slice_y if y not in inside]
    fig.update_xaxes(title="observed y")
    fig.update_yaxes(title="latent z")
    note = f" (slices at y = {', '.join(outside)} lie outside this range)" if outside else ""
    return layout(fig, f"Ground-truth posterior p(z | y), σ = {noise_std:g}{note}", 460)


def true_posterior_slices(noise_std: float, y_values=SHOWN_Y_VALUES) -> go.Figure:
    """One panel per y, each on its own scale from 0: y = 1's single spike would flatten the
    four-mode slices inside the data if they shared an axis. The z-points include a fine
    window around every mode, so each is drawn at its true height (exact, any σ)."""
    rows, columns = y_panel_grid(len(y_values))
    titles = padded_rows([f"y = {y:g}" for y in y_values], columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles)
    for index, y in enumerate(y_values):
        row, col = y_panel_place(index, columns)
        fig.add_scatter(
            **true_posterior_slice(noise_std, y),
            name="ground truth p(z | y)",
            line_color=TRUTH,
            hovertemplate=hover(f"ground truth p(z | y = {y:g})", "true_posterior", "z", "p(z|y)"),
            showlegend=index == 0,
            row=row,
            col=col,
        )
        fig.update_xaxes(title_text="latent z", range=[0, 1], row=row, col=col)
        fig.update_yaxes(rangemode="tozero", row=row, col=col)
    fig.update_yaxes(title_text="density p(z | y)", row=1, col=1)
    height = 400 + (rows - 1) * SLICE_ROW_HEIGHT
    return layout(fig, "Ground-truth posterior slices: up to four modes per y", height)


def true_posterior_slice(noise_std: float, y: float) -> dict:
    """The exact p(z|y) at one y as a curve's x and y, on z-points fine around every mode."""
    zs = ground_truth.posterior_z_nodes([y], noise_std)
    return dict(x=zs.numpy(), y=ground_truth.posterior_grid([y], noise_std, zs)[0].numpy())
