"""Figures of the live view: redrawn several times a second while a model trains, and the
"see the prior" and A/B figures of the Train page. Pure functions, no streamlit.

Each figure takes one or two `Shown` runs (a single-member VAE, its config and a legend label):
the current run first, then optionally a pinned one to compare with. They are built to be cheap
(a few ms each): the model's exact densities use its own adaptive latent grid, and every
ground-truth term is computed once per noise level (and y) and cached.

Colours follow figures.py: the ground truth is black, each model its own colour; the model's
own exact posterior p_θ(z|y) is olive and dashed, so it cannot be mistaken for any model's line.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import plotly.colors as plotly_colors
import plotly.graph_objects as go
import torch

from vae_core import exact, ground_truth
from vae_core.config import TrainConfig
from vae_core.figures import EXACT_COLOR, MEANINGS, MODEL_COLORS, TRUTH, wrapped
from vae_core.model import VAE
from vae_core.training import SNAPSHOT_U, TrainResult, build_model

PROBE_COLOR = "#e6550d"  # the chosen y, marked on p(y) and on the heat map
PINNED_DASH = "dash"  # the pinned run (B) is dashed, the current run (A) solid
LIVE_Y_NODES = 301
LIVE_Z_NODES = 301
TRUTH_U_CELLS = 2001
AGGREGATE_Y_NODES = 201
HEATMAP_Y = np.linspace(-0.1, 0.35, 181)
HEATMAP_Z = np.linspace(0.0, 1.0, 201)
FIGURE_NAMES = ("elbo", "decoder", "marginal", "posterior", "prior", "truth_heatmap")


@dataclass(frozen=True)
class Shown:
    """One run drawn in the live figures."""

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


# ----- cached ground truth -------------------------------------------------------------------


def live_y_grid(noise_std: float) -> np.ndarray:
    """The y-range of the live p(y) figure: f's range [0, 1/4] and 4σ either side."""
    return np.linspace(-4 * noise_std - 0.02, 0.27 + 4 * noise_std, LIVE_Y_NODES)


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


@functools.lru_cache(maxsize=16)
def _aggregate_weights(noise_std: float) -> tuple[np.ndarray, np.ndarray]:
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


# ----- exact quantities of a model, cheap enough to redraw live ------------------------------


def aggregate_posterior(model: VAE, noise_std: float, z) -> np.ndarray:
    """q(z) = E_{y ~ p(y)} q(z|y) at the points z, by quadrature over the true p(y)."""
    y, weights = _aggregate_weights(noise_std)
    q = model.posterior_density(y, np.asarray(z, dtype=np.float64))[0].numpy()  # (len(y), len(z))
    return weights @ q


def prior_components(model: VAE, z) -> np.ndarray:
    """Each prior component's share (1/M) N(z; μᵢ, σᵢ²): rows sum to the prior density."""
    prior = model.prior_distribution()
    return _weighted_components(prior.locs[0], prior.scales[0], z)


def posterior_components(model: VAE, y: float, z) -> np.ndarray:
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


def posterior_z_points(model: VAE, y_values, n_points: int = LIVE_Z_NODES) -> np.ndarray:
    """z-points covering the prior's bulk and the mass of q(z|y) and p_θ(z|y) at every y."""
    low, high = model.prior_quantile([0.005, 0.995])[0].tolist()
    with torch.no_grad():
        posterior = model.posterior(torch.tensor([list(y_values)], dtype=torch.float32))
    locs, scales = posterior.locs[0].double(), posterior.scales[0].double()
    low = min(low, (locs - 4 * scales).min().item())
    high = max(high, (locs + 4 * scales).max().item())
    grid, spacing = exact.latent_grid(model)
    cumulative = (exact.posterior(model, list(y_values), grid)[0] * spacing).cumsum(dim=-1)
    for row in cumulative:
        inside = torch.nonzero((row > 1e-3) & (row < 1 - 1e-3)).flatten()
        if len(inside):
            low = min(low, grid[inside[0]].item())
            high = max(high, grid[inside[-1]].item())
    pad = 0.05 * (high - low)
    return np.linspace(low - pad, high + pad, n_points)


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
    z = posterior_z_points(model, [y], 801)
    q = model.posterior_density([y], z)[0, 0].numpy()
    model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
    return PosteriorModes(
        y=y,
        components=model.posterior_components,
        q_modes=count_modes(q),
        exact_modes=count_modes(model_posterior),
        true_modes=count_modes(true_posterior_cells(config.noise_std, float(y))),
    )


def y_from_selection(selection) -> float | None:
    """The y a student chose on a clickable chart (st.plotly_chart's selection state).

    A click gives points (their x is y on both p(y) and the heat map); a drag gives a box, whose
    middle is taken. Anything else (an empty or cleared selection) chooses nothing.
    """
    if not selection:
        return None
    points = selection.get("points") or []
    xs = [p["x"] for p in points if isinstance(p, dict) and _is_number(p.get("x"))]
    if xs:
        return float(xs[0])
    for box in selection.get("box") or []:
        xs = [x for x in (box.get("x") or []) if _is_number(x)]
        if xs:
            return float(0.5 * (min(xs) + max(xs)))
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ----- figures -----------------------------------------------------------------------------


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, font_size=15),
        template="plotly_white",
        height=height,
        margin=dict(l=55, r=15, t=60, b=40),
        # Below the plot, so it never covers the panel titles however many runs it names.
        legend=dict(orientation="h", yanchor="top", y=-0.28, x=0, font_size=11),
        # Keep the user's zoom and legend clicks across live redraws of the same figure.
        uirevision="live",
    )
    return fig


def _hover(name: str, meaning: str, x: str, y: str) -> str:
    return f"<b>{name}</b><br>{wrapped(meaning)}<br>{x} = %{{x:.3f}}, {y} = %{{y:.3f}}<extra></extra>"


def _faint(color: str, alpha: float = 0.15) -> str:
    red, green, blue = plotly_colors.hex_to_rgb(color)
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _line(
    x,
    y,
    name: str,
    meaning: str,
    color: str,
    dash: str = "solid",
    width: float = 2.0,
    xname: str = "z",
    yname: str = "density",
    mode: str = "lines",
    **extra,
) -> go.Scatter:
    return go.Scatter(
        x=x,
        y=y,
        name=name,
        mode=mode,
        line=dict(color=color, dash=dash, width=width),
        hovertemplate=_hover(name, MEANINGS[meaning], xname, yname),
        **extra,
    )


def _side_by_side(n: int) -> dict:
    """Axis domains for n panels in a row, without make_subplots (several ms per figure)."""
    gap = 0.07
    width = (1 - gap * (n - 1)) / n
    layout = {}
    for index in range(n):
        suffix = "" if index == 0 else str(index + 1)
        start = index * (width + gap)
        layout[f"xaxis{suffix}"] = dict(domain=[start, start + width], anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = dict(anchor=f"x{suffix}")
    return layout


def _axis_refs(index: int) -> dict:
    suffix = "" if index == 0 else str(index + 1)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def _panel_title(text: str, index: int, n: int) -> dict:
    gap = 0.07
    width = (1 - gap * (n - 1)) / n
    return dict(
        text=text,
        x=index * (width + gap) + width / 2,
        y=1.0,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        showarrow=False,
        font_size=13,
    )


def decoder_live_figure(runs: list[Shown]) -> go.Figure:
    """Left: the raw decoder f_φ(z) in each model's latent. Right: aligned, f_φ(F⁻¹(u)) vs f(u)."""
    u = (np.arange(200) + 0.5) / 200
    traces = [
        _line(
            u, ground_truth.f(u), "ground truth f(u)", "truth_f", TRUTH, xname="u", yname="f", **_axis_refs(1)
        )
    ]
    for run in runs:
        model = run.model
        low, high = model.prior_quantile([0.002, 0.998])[0].tolist()
        z = np.linspace(low, high, 200)
        with torch.no_grad():
            raw = model.decode(torch.tensor(z, dtype=torch.float32).unsqueeze(0))[0].double().numpy()
        aligned = model.aligned_decoder(u)[0].numpy()
        style = dict(color=run.color, dash=run.dash, width=2.5)
        traces.append(
            _line(
                z,
                raw,
                run.label,
                "raw_decoder",
                xname="z",
                yname="f_φ(z)",
                legendgroup=run.label,
                **style,
                **_axis_refs(0),
            )
        )
        traces.append(
            _line(
                u,
                aligned,
                run.label,
                "aligned_decoder",
                xname="u",
                yname="f_φ(F⁻¹(u))",
                legendgroup=run.label,
                showlegend=False,
                **style,
                **_axis_refs(1),
            )
        )
    fig = go.Figure(traces, layout=_side_by_side(2))
    fig.update_layout(
        annotations=[
            _panel_title("learned decoder f_φ(z)", 0, 2),
            _panel_title("aligned: f_φ(F⁻¹(u)) vs f(u)", 1, 2),
        ]
    )
    fig.update_layout(
        xaxis_title="model latent z", yaxis_title="f_φ(z)", xaxis2=dict(title="u = F_prior(z)", range=[0, 1])
    )
    return _layout(fig, "Decoder", 360).update_layout(margin_b=110)


def marginal_live_figure(runs: list[Shown], chosen_y: float | None = None) -> go.Figure:
    """The model's exact p_θ(y) against the true p(y), with the chosen y marked."""
    noise_std = runs[0].config.noise_std
    grid, truth = true_marginal(noise_std)
    # Markers (invisible) make every curve's points clickable: Plotly selects points, not lines.
    traces = [
        _line(
            grid,
            truth,
            "ground truth p(y)",
            "true_marginal",
            TRUTH,
            width=3,
            xname="y",
            mode="lines+markers",
            marker=dict(size=6, opacity=0),
        )
    ]
    for run in runs:
        if run.config.noise_std != noise_std:  # another σ: its own true p(y) would be needed
            continue
        density = torch.exp(exact.log_marginal(run.model, grid)[0]).numpy()
        traces.append(
            _line(
                grid,
                density,
                f"p_θ(y) {run.label}",
                "model_marginal",
                run.color,
                run.dash,
                2.5,
                xname="y",
                mode="lines+markers",
                marker=dict(size=6, opacity=0),
            )
        )
    fig = go.Figure(traces)
    if chosen_y is not None:
        _mark_y(fig, chosen_y, grid)
    fig.update_xaxes(title="observed y", range=[grid[0], grid[-1]])
    fig.update_yaxes(title="density", rangemode="tozero")
    return _layout(fig, "Generated p_θ(y) vs the true p(y)", 360).update_layout(margin_b=110)


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
    fig = go.Figure(layout=_side_by_side(len(runs)))
    titles = []
    for index, run in enumerate(runs):
        model, axes, first = run.model, _axis_refs(index), index == 0
        z = posterior_z_points(model, [y])
        q = model.posterior_density([y], z)[0, 0].numpy()
        model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
        fig.add_trace(
            _line(
                z,
                model_posterior,
                "model's exact p_θ(z|y)",
                "exact_posterior",
                EXACT_COLOR,
                "dash",
                2.5,
                legendgroup="exact",
                showlegend=first,
                **axes,
            )
        )
        if model.posterior_components > 1:
            for row, component in enumerate(posterior_components(model, y, z)):
                fig.add_trace(
                    _line(
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
        fig.add_trace(_line(z, q, f"q(z|y) {run.label}", "q", run.color, run.dash, 3.0, **axes))
        suffix = "" if index == 0 else str(index + 1)
        fig.update_layout(
            {f"xaxis{suffix}": dict(title="model latent z"), f"yaxis{suffix}": dict(rangemode="tozero")}
        )
        titles.append(_panel_title(_short(run), index, len(runs)))
    fig.update_layout(yaxis_title="density", annotations=titles if len(runs) > 1 else [])
    return _layout(fig, f"Posterior at y = {y:g}", 360).update_layout(margin_b=110)


def prior_figure(runs: list[Shown]) -> go.Figure:
    """The prior (with its M components when learned) against the aggregate posterior q(z)."""
    fig = go.Figure(layout=_side_by_side(len(runs)))
    titles = []
    for index, run in enumerate(runs):
        model, axes, first = run.model, _axis_refs(index), index == 0
        low, high = model.prior_quantile([0.0005, 0.9995])[0].tolist()
        pad = 0.15 * (high - low)
        z = np.linspace(low - pad, high + pad, 401)
        prior = model.prior_density(z)[0].numpy()
        aggregate = aggregate_posterior(model, run.config.noise_std, z)
        if model.prior_kind == "mog":
            for row, component in enumerate(prior_components(model, z)):
                fig.add_trace(
                    _line(
                        z,
                        component,
                        "prior's components (each at 1/M)",
                        "prior_component",
                        TRUTH,
                        "dot",
                        1.0,
                        legendgroup="pc",
                        showlegend=first and row == 0,
                        opacity=0.6,
                        **axes,
                    )
                )
        fig.add_trace(
            _line(
                z,
                prior,
                "prior p(z)",
                "prior",
                TRUTH,
                width=2.5,
                legendgroup="prior",
                showlegend=first,
                **axes,
            )
        )
        fig.add_trace(
            _line(
                z,
                aggregate,
                f"aggregate q(z) {run.label}",
                "aggregate",
                run.color,
                run.dash,
                3.0,
                fill="tozeroy",
                fillcolor=_faint(run.color),
                **axes,
            )
        )
        suffix = "" if index == 0 else str(index + 1)
        fig.update_layout(
            {f"xaxis{suffix}": dict(title="model latent z"), f"yaxis{suffix}": dict(rangemode="tozero")}
        )
        titles.append(_panel_title(_short(run), index, len(runs)))
    fig.update_layout(yaxis_title="density", annotations=titles if len(runs) > 1 else [])
    title = "Prior p(z) vs aggregate posterior q(z) = E_y q(z|y)"
    return _layout(fig, title, 360).update_layout(margin_b=110)


def _short(run: Shown) -> str:
    """A panel title: 'A: MFG-VAE, seed 0' (the legend has the full label)."""
    return run.label.split(" (σ")[0]


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
            hovertemplate="<b>ground truth p(z|y)</b><br>"
            + wrapped(
                "How likely each true latent z is to have produced this y (a vertical slice is "
                "the posterior at that y)."
            )
            + "<br>y = %{x:.3f}, z = %{y:.3f}: p(z|y) = %{z:.2f}<extra></extra>",
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
    return _layout(fig, f"Ground-truth posterior p(z|y), σ = {noise_std:g}: click to choose y", 360)


# ----- the decoder over training: animated on screen, static on paper -------------------------


# Light to dark in each model's colour (figures.MODEL_COLORS); any other model in greys.
SHADES = {
    "MFG-VAE": "Blues",
    "MoG-VAE (MoG posterior)": "Reds",
    "MFG-VAE + MoG prior": "Greens",
    "MoG prior + MoG posterior": "Purples",
}
ANIMATION_FRAME_MS = 600  # slow enough to narrate: about ten snapshots take six seconds


def decoder_animation_figure(result: TrainResult, frame_ms: int = ANIMATION_FRAME_MS) -> go.Figure:
    """The aligned decoder f_φ(F⁻¹(u)) at each snapshot, with a play button and a step slider."""
    steps, frames_data = result.snapshot_steps, result.snapshot_aligned
    color = MODEL_COLORS[result.config.model_name]
    truth = _line(
        SNAPSHOT_U, ground_truth.f(SNAPSHOT_U), "ground truth f(u)", "truth_f", TRUTH, xname="u", yname="f"
    )

    def learned(index):
        return _line(
            SNAPSHOT_U,
            frames_data[index],
            f"learned, step {steps[index]}",
            "aligned_decoder",
            color,
            width=3,
            xname="u",
            yname="f_φ(F⁻¹(u))",
        )

    last = len(steps) - 1
    fig = go.Figure(
        data=[truth, learned(last)],
        frames=[go.Frame(data=[truth, learned(i)], name=str(s)) for i, s in enumerate(steps)],
    )
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True))
    play = dict(
        frame=dict(duration=frame_ms, redraw=True),
        transition=dict(duration=frame_ms // 2),
        fromcurrent=True,
        mode="immediate",
    )
    fig.update_layout(
        updatemenus=[
            dict(
                type="buttons",
                x=0,
                y=-0.3,
                xanchor="left",
                yanchor="top",
                buttons=[
                    dict(label="▶ play", method="animate", args=[None, play]),
                    dict(
                        label="❚❚ pause",
                        method="animate",
                        args=[[None], dict(frame=dict(duration=0), mode="immediate")],
                    ),
                ],
            )
        ],
        sliders=[
            dict(
                active=last,
                x=0.2,
                y=-0.25,
                len=0.8,
                yanchor="top",
                currentvalue=dict(prefix="step "),
                steps=[dict(label=str(s), method="animate", args=[[str(s)], jump]) for s in steps],
            )
        ],
    )
    _decoder_axes(fig, frames_data)
    return _layout(
        fig, "Training animation: the decoder on the true latent's scale at each snapshot", 470
    ).update_layout(
        margin=dict(t=80, b=150),
        uirevision=None,
        # Above the plot: below it, the legend ran into the play buttons and the slider.
        legend=dict(y=1.0, yanchor="bottom", x=1, xanchor="right"),
    )


def decoder_snapshots_figure(result: TrainResult, max_lines: int = 8) -> go.Figure:
    """The same snapshots on paper: one line per snapshot, light (early) to dark (late)."""
    steps, frames_data = result.snapshot_steps, result.snapshot_aligned
    picks = np.unique(np.linspace(0, len(steps) - 1, min(max_lines, len(steps))).round().astype(int))
    traces = [
        _line(
            SNAPSHOT_U,
            ground_truth.f(SNAPSHOT_U),
            "ground truth f(u)",
            "truth_f",
            TRUTH,
            width=3,
            xname="u",
            yname="f",
        )
    ]
    scale = SHADES.get(result.config.model_name, "Greys")
    shades = plotly_colors.sample_colorscale(scale, np.linspace(0.3, 1.0, len(picks)))
    for shade, index in zip(shades, picks, strict=True):
        traces.append(
            _line(
                SNAPSHOT_U,
                frames_data[index],
                f"step {steps[index]}",
                "aligned_decoder",
                shade,
                width=2,
                xname="u",
                yname="f_φ(F⁻¹(u))",
            )
        )
    fig = go.Figure(traces)
    _decoder_axes(fig, frames_data)
    return _layout(fig, "The decoder over training (light: early, dark: late)", 470).update_layout(
        margin_t=80, uirevision=None
    )


def _decoder_axes(fig: go.Figure, frames_data: np.ndarray) -> None:
    finite = frames_data[np.isfinite(frames_data)]
    low = min(-0.1, float(finite.min()) if finite.size else 0.0)
    high = max(0.35, float(finite.max()) if finite.size else 0.3)
    fig.update_yaxes(title="f_φ(F⁻¹(u))", range=[low - 0.05, high + 0.05])
    fig.update_xaxes(title="u = F_prior(z)", range=[0, 1])


def live_figures(runs: list[Shown], y: float) -> dict[str, go.Figure]:
    """Everything the live view redraws while the current run (runs[0]) trains."""
    return {
        "decoder": decoder_live_figure(runs),
        "marginal": marginal_live_figure(runs, y),
        "posterior": posterior_live_figure(runs, y),
    }
