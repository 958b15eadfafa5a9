"""The live view: figures redrawn several times a second while a model trains (the ELBO curve,
the decoder, p_θ(y) against p(y), the posterior at the chosen y, the clickable heat map of the
truth), and the sentence saying how many modes that posterior uses. Pure functions, no streamlit.

Each figure takes one or two `Shown` runs: the current run first, then optionally a pinned one to
compare with. They are built to be cheap (a few ms each): the model's exact densities use its own
adaptive latent grid, and every ground-truth term is computed once per noise level (and y).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from vae_core import exact, ground_truth
from vae_core.config import TrainConfig
from vae_core.model import VAE
from vae_core.plots.densities import posterior_components
from vae_core.plots.ranges import HEATMAP_Y, HEATMAP_Z, live_y_grid, posterior_z_points, prior_z_points
from vae_core.plots.style import (
    EXACT_COLOR,
    HEATMAP_POINT,
    MODEL_COLORS,
    PINNED_DASH,
    PROBE_COLOR,
    TRUTH,
    axis_refs,
    curve,
    hover,
    layout,
    panel_axes,
    panel_title,
    side_by_side,
)
from vae_core.training import TrainResult, build_model

FIGURE_NAMES = ("elbo", "decoder", "marginal", "posterior", "prior", "truth_heatmap")
LIVE_Z_NODES = 301
MODES_Z_NODES = 801  # finer than the figure: a narrow peak must not fall between two points
TRUTH_U_CELLS = 2001


@dataclass(frozen=True)
class Shown:
    """One run drawn in the live figures (and in the prior figure, run.prior_figure)."""

    model: VAE  # a single-member model
    config: TrainConfig
    label: str
    pinned: bool = False

    @property
    def color(self) -> str:
        return MODEL_COLORS[self.config.model_name]

    @property
    def dash(self) -> str:
        return PINNED_DASH if self.pinned else "solid"

    @property
    def short_label(self) -> str:
        """A panel title: 'A: MFG-VAE, seed 0' (the legend has the full label)."""
        return self.label.split(" (σ")[0]


def shown_result(result: TrainResult, pinned: bool = False, label: str | None = None) -> Shown:
    return Shown(result.model, result.config, label or run_label(result.config, pinned), pinned)


def run_label(config: TrainConfig, pinned: bool = False) -> str:
    """'A: MFG-VAE, seed 0 (σ = 0.1)': A is the current run, B the pinned one."""
    return f"{'B' if pinned else 'A'}: {config.model_name}, seed {config.seed} (σ = {config.noise_std:g})"


def model_from_state(config: TrainConfig, state: dict) -> VAE:
    """A single-member model with the weights of a state dict (as a training service reports)."""
    model = build_model([config])
    model.load_state_dict({name: torch.as_tensor(value) for name, value in state.items()})
    return model


def live_figures(runs: list[Shown], y: float) -> dict[str, go.Figure]:
    """Everything the live view redraws while the current run (runs[0]) trains."""
    return {
        "decoder": decoder_live_figure(runs),
        "marginal": marginal_live_figure(runs, y),
        "posterior": posterior_live_figure(runs, y),
    }


# ----- cached ground truth -------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def true_marginal(noise_std: float) -> tuple[np.ndarray, np.ndarray]:
    """(y-grid, exact p(y) on it): the same for every model at this σ, so computed once."""
    grid = live_y_grid(noise_std)
    return grid, torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()


@functools.lru_cache(maxsize=256)
def true_posterior_cells(noise_std: float, y: float) -> np.ndarray:
    """The exact p(u|y) on TRUTH_U_CELLS points of [0, 1] (cached per σ and y)."""
    cells = np.linspace(0.0, 1.0, TRUTH_U_CELLS)
    return ground_truth.posterior_grid([y], noise_std, cells)[0].numpy()


@functools.lru_cache(maxsize=16)
def true_posterior_table(noise_std: float) -> np.ndarray:
    """The exact p(z|y) over HEATMAP_Y × HEATMAP_Z, shape (len(HEATMAP_Z), len(HEATMAP_Y))."""
    return ground_truth.posterior_grid(HEATMAP_Y, noise_std, HEATMAP_Z).numpy().T


# ----- how many modes a posterior uses -------------------------------------------------------


def count_modes(density, min_height: float = 0.05, min_dip: float = 0.1) -> int:
    """Number of separate peaks of a density tabulated on a grid.

    A peak counts if it reaches `min_height` of the highest, and two neighbouring peaks count
    as two only if the density between them dips below (1 − min_dip) of the lower peak: a
    shoulder or a flat top is one mode, as a student looking at the curve would say.
    """
    density = np.asarray(density, dtype=np.float64)
    if density.size == 0 or not np.isfinite(density).all() or density.max() <= 0:
        return 0
    padded = np.concatenate([[-np.inf], density, [-np.inf]])
    # Local maxima, counting a plateau once (at its left end).
    rising = padded[1:-1] > padded[:-2]
    not_falling = padded[1:-1] >= padded[2:]
    candidates = np.nonzero(rising & not_falling)[0]
    candidates = candidates[density[candidates] >= min_height * density.max()]
    kept: list[int] = []
    for peak in candidates:
        if kept:
            last = kept[-1]
            valley = density[last : peak + 1].min()
            if valley > (1 - min_dip) * min(density[last], density[peak]):
                if density[peak] > density[last]:
                    kept[-1] = peak
                continue
        kept.append(int(peak))
    return len(kept)


@dataclass(frozen=True)
class PosteriorModes:
    """How many peaks q(z|y) has, against its number of components and p_θ(z|y)'s peaks."""

    y: float
    components: int
    q_modes: int
    exact_modes: int
    true_modes: int

    def sentence(self) -> str:
        """One line for the page: does this posterior really use several modes?"""
        truth = f"the true posterior has {_peaks(self.true_modes)}"
        if self.components == 1:
            return (
                f"At y = {self.y:g}, q(z|y) is a single Gaussian (one peak); the model's own "
                f"posterior p_θ(z|y) has {_peaks(self.exact_modes)} and {truth}."
            )
        if self.q_modes <= 1:
            return (
                f"At y = {self.y:g}, q(z|y) has {self.components} components but stays "
                f"single-peaked: it does not use its mixture (p_θ(z|y) has "
                f"{_peaks(self.exact_modes)}, {truth})."
            )
        return (
            f"At y = {self.y:g}, q(z|y) has {_peaks(self.q_modes)} (from {self.components} "
            f"components); p_θ(z|y) has {_peaks(self.exact_modes)} and {truth}."
        )


def _peaks(n: int) -> str:
    return "one peak" if n == 1 else f"{n} peaks"


def posterior_modes(model: VAE, config: TrainConfig, y: float) -> PosteriorModes:
    """The peaks of the curves the posterior figure draws at y, counted on the figure's z-range."""
    z = posterior_z_points(model, y, MODES_Z_NODES)
    q = model.posterior_density([y], z)[0, 0].numpy()
    model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
    return PosteriorModes(
        y=y,
        components=model.posterior_components,
        q_modes=count_modes(q),
        exact_modes=count_modes(model_posterior),
        true_modes=count_modes(true_posterior_cells(config.noise_std, float(y))),
    )


# ----- the figures -------------------------------------------------------------------------------


def live_elbo_figure(
    steps: np.ndarray, train_elbo: np.ndarray, labels: list[str], total_steps: int, smooth: int = 25
) -> go.Figure:
    """The ELBO curve drawn while training runs (train_elbo: steps × members)."""
    fig = go.Figure()
    kernel = np.ones(smooth) / smooth
    for column, label in enumerate(labels):
        values = train_elbo[:, column]
        if len(values) >= smooth:
            values = np.convolve(values, kernel, mode="valid")
            x = steps[smooth - 1 :]
        else:
            x = steps
        fig.add_scatter(
            x=x,
            y=values,
            name=label,
            mode="lines",
            hovertemplate=hover(f"{label}: train ELBO", "train_elbo", "step", "nats", x_format=""),
        )
    fig.update_xaxes(title="training step", range=[0, total_steps])
    fig.update_yaxes(title="train ELBO (running mean), nats")
    return layout(fig, "Training live", 320)


def decoder_live_figure(runs: list[Shown]) -> go.Figure:
    """Left: the raw decoder f_φ(z) in each model's latent. Right: aligned, f_φ(F⁻¹(u)) vs f(u)."""
    u = (np.arange(200) + 0.5) / 200
    traces = [
        curve(
            u, ground_truth.f(u), "ground truth f(u)", "truth_f", TRUTH, xname="u", yname="f", **axis_refs(1)
        )
    ]
    for run in runs:
        traces += _decoder_curves(run, u)
    fig = go.Figure(traces, layout=side_by_side(2))
    fig.update_layout(
        annotations=[
            panel_title("learned decoder f_φ(z)", 0, 2),
            panel_title("aligned: f_φ(F⁻¹(u)) vs f(u)", 1, 2),
        ]
    )
    fig.update_layout(
        xaxis_title="model latent z", yaxis_title="f_φ(z)", xaxis2=dict(title="u = F_prior(z)", range=[0, 1])
    )
    return layout(fig, "Decoder", 360, compact=True).update_layout(margin_b=110)


def _decoder_curves(run: Shown, u: np.ndarray) -> list[go.Scatter]:
    """One run's raw decoder (left panel) and aligned decoder (right panel)."""
    model = run.model
    z = prior_z_points(model, (0.002, 0.998), 200)
    with torch.no_grad():
        raw = model.decode(torch.tensor(z, dtype=torch.float32).unsqueeze(0))[0].double().numpy()
    aligned = model.aligned_decoder(u)[0].numpy()
    look = dict(color=run.color, dash=run.dash, width=2.5)
    return [
        curve(
            z,
            raw,
            run.label,
            "raw_decoder",
            xname="z",
            yname="f_φ(z)",
            legendgroup=run.label,
            **look,
            **axis_refs(0),
        ),
        curve(
            u,
            aligned,
            run.label,
            "aligned_decoder",
            xname="u",
            yname="f_φ(F⁻¹(u))",
            legendgroup=run.label,
            showlegend=False,
            **look,
            **axis_refs(1),
        ),
    ]


def marginal_live_figure(runs: list[Shown], chosen_y: float | None = None) -> go.Figure:
    """The model's exact p_θ(y) against the true p(y), with the chosen y marked."""
    noise_std = runs[0].config.noise_std
    grid, truth = true_marginal(noise_std)
    # Markers (invisible) make every curve's points clickable: Plotly selects points, not lines.
    clickable = dict(xname="y", mode="lines+markers", marker=dict(size=6, opacity=0))
    traces = [curve(grid, truth, "ground truth p(y)", "true_marginal", TRUTH, width=3, **clickable)]
    for run in runs:
        if run.config.noise_std != noise_std:  # another σ: its own true p(y) would be needed
            continue
        density = torch.exp(exact.log_marginal(run.model, grid)[0]).numpy()
        traces.append(
            curve(
                grid, density, f"p_θ(y) {run.label}", "model_marginal", run.color, run.dash, 2.5, **clickable
            )
        )
    fig = go.Figure(traces)
    if chosen_y is not None:
        _mark_y(fig, chosen_y, grid)
    fig.update_xaxes(title="observed y", range=[grid[0], grid[-1]])
    fig.update_yaxes(title="density", rangemode="tozero")
    return layout(fig, "Generated p_θ(y) vs the true p(y)", 360, compact=True).update_layout(margin_b=110)


def _mark_y(fig: go.Figure, y: float, grid: np.ndarray) -> None:
    """A vertical line at the chosen y (or a note when it lies off the plotted range)."""
    if grid[0] <= y <= grid[-1]:
        fig.add_vline(x=y, line=dict(color=PROBE_COLOR, width=2, dash="dot"))
        fig.add_annotation(
            x=y,
            y=1,
            yref="paper",
            text=f"y = {y:g}",
            showarrow=False,
            font=dict(color=PROBE_COLOR),
            xanchor="left",
            yanchor="top",
        )
    else:
        side = "left" if y < grid[0] else "right"
        fig.add_annotation(
            x=0 if side == "left" else 1,
            xref="paper",
            y=1,
            yref="paper",
            text=f"y = {y:g} is off to the {side}",
            showarrow=False,
            font=dict(color=PROBE_COLOR),
            xanchor=side,
            yanchor="top",
        )


def posterior_live_figure(runs: list[Shown], y: float) -> go.Figure:
    """q(z|y) and the model's exact p_θ(z|y) at one y (their gap is the inference gap); one panel
    per run (latents of two models are not comparable), with q's components when it is a mixture.
    No ground truth here: the arrangement of a model's latent is not identifiable, so the truth is
    drawn in its own latent (the heat map), never moved onto the model's."""
    fig = go.Figure(layout=side_by_side(len(runs)))
    for index, run in enumerate(runs):
        fig.add_traces(_posterior_curves(run, y, index))
        fig.update_layout(panel_axes(index, dict(title="model latent z"), dict(rangemode="tozero")))
    titles = [panel_title(run.short_label, index, len(runs)) for index, run in enumerate(runs)]
    fig.update_layout(yaxis_title="density", annotations=titles if len(runs) > 1 else [])
    return layout(fig, f"Posterior at y = {y:g}", 360, compact=True).update_layout(margin_b=110)


def _posterior_curves(run: Shown, y: float, index: int) -> list[go.Scatter]:
    """One run's p_θ(z|y) (dashed), q's components (dotted, when a mixture) and q(z|y)."""
    model, axes = run.model, axis_refs(index)
    z = posterior_z_points(model, y, LIVE_Z_NODES)
    q = model.posterior_density([y], z)[0, 0].numpy()
    model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
    curves = [
        curve(
            z,
            model_posterior,
            "model's exact p_θ(z|y)",
            "exact_posterior",
            EXACT_COLOR,
            "dash",
            2.5,
            legendgroup="exact",
            showlegend=index == 0,
            **axes,
        )
    ]
    if model.posterior_components > 1:
        for row, component in enumerate(posterior_components(model, y, z)):
            curves.append(
                curve(
                    z,
                    component,
                    f"q's components ({model.posterior_components}, each at 1/M)",
                    "q_component",
                    run.color,
                    "dot",
                    1.0,
                    legendgroup=f"components{index}",
                    showlegend=row == 0,
                    opacity=0.7,
                    **axes,
                )
            )
    curves.append(curve(z, q, f"q(z|y) {run.label}", "q", run.color, run.dash, 3.0, **axes))
    return curves


def truth_heatmap_figure(noise_std: float, chosen_y: float | None = None) -> go.Figure:
    """The exact p(z|y) over (y, z), with the chosen y marked; click it to choose y."""
    table = true_posterior_table(noise_std)
    # The spikes at the edges of f's range (y ≥ 1/4) would take the whole colour scale: cap it
    # so the four bands inside the data stay visible.
    cap = float(np.quantile(table, 0.98))
    fig = go.Figure(
        go.Heatmap(
            x=HEATMAP_Y,
            y=HEATMAP_Z,
            z=table,
            zmin=0,
            zmax=cap,
            colorscale="Viridis",
            colorbar=dict(title=f"p(z|y)<br>(≥ {cap:.2g}:<br>top colour)"),
            hovertemplate=hover("ground truth p(z|y)", "true_posterior_map", point=HEATMAP_POINT),
        )
    )
    # A heat map has no selectable points: an invisible grid of markers takes the clicks.
    click_y, click_z = np.meshgrid(HEATMAP_Y[::2], np.linspace(0.0, 1.0, 11))
    fig.add_scatter(
        x=click_y.ravel(),
        y=click_z.ravel(),
        mode="markers",
        showlegend=False,
        marker=dict(size=8, opacity=0),
        name="click to choose y",
        hovertemplate="<b>click to choose y</b><br>A click here shows q(z|y), p_θ(z|y) and the truth at "
        "this y.<br>y = %{x:.3f}<extra></extra>",
    )
    if chosen_y is not None:
        _mark_y(fig, chosen_y, HEATMAP_Y)
    fig.update_xaxes(title="observed y")
    fig.update_yaxes(title="true latent z")
    return layout(
        fig, f"Ground-truth posterior p(z|y), σ = {noise_std:g}: click to choose y", 360, compact=True
    )
