"""Figures of a finished run (the Train page's tabs, the CLI): training curves, the decoder, the
generated p_θ(y), the posteriors, the decoder over training (animated and as still snapshots) and
the prior against the aggregate posterior. Pure functions, no streamlit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.colors as plotly_colors
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vae_core import exact, ground_truth
from vae_core.data import VALIDATION_POINTS, training_data, validation_data
from vae_core.metrics import QUANTILE_LEVELS
from vae_core.paper import SHOWN_Y_VALUES
from vae_core.plots.densities import aggregate_posterior, prior_components
from vae_core.plots.encoder import encoder_figure
from vae_core.plots.live import run_label
from vae_core.plots.ranges import U_GRID, marginal_y_grid, posterior_ranges, prior_z_points
from vae_core.plots.style import (
    EXACT_COLOR,
    PINNED_DASH,
    SHADES,
    TRUTH,
    axis_refs,
    color_of,
    curve,
    faint,
    hover,
    layout,
    padded_rows,
    panel_axes,
    panel_title,
    seed_dash,
    side_by_side,
    y_panel_grid,
    y_panel_place,
)
from vae_core.plots.truth import true_posterior_slice
from vae_core.training import SNAPSHOT_U, TrainResult

if TYPE_CHECKING:
    from vae_core.plots.live import Shown

MODEL_FIGURES = ("training_curves", "decoder", "generated_marginal", "posteriors", "encoder")
POSTERIORS_HEIGHT = 620  # px of the posteriors figure with one group (a model and a truth row)
POSTERIORS_GROUP_HEIGHT = 520  # px each further group adds (more than PANELS_PER_ROW y values)
POSTERIORS_GAP_PX = 124  # px between rows: the upper row's axis title and a two-line title
POSTERIORS_TOP_PX = 110  # px above the first row: the figure's title and two-line panel titles
ANIMATION_FRAME_MS = 600  # slow enough to narrate: about ten snapshots take six seconds


def model_figure(name: str, result: TrainResult, y_values=SHOWN_Y_VALUES) -> go.Figure:
    """One figure of a trained model by file name (MODEL_FIGURES): the Train page builds only
    the one a student opens."""
    if name == "training_curves":
        return training_curves_figure({result.config.model_name: [result]})
    if name == "decoder":
        return decoder_figure([result])
    if name == "generated_marginal":
        return generated_marginal_figure([result])
    if name == "posteriors":
        return posterior_figure(result, y_values)
    if name == "encoder":
        return encoder_figure(result)
    raise KeyError(f"no model figure named {name!r}; expected one of {MODEL_FIGURES}")


# The figures that draw the current run (A) and the pinned one (B) on the same axes; the others
# (posteriors, encoder) are per run, and the page shows B's below A's.
COMPARABLE_FIGURES = ("training_curves", "decoder", "generated_marginal")


def compared_figure(name: str, current: TrainResult, pinned: TrainResult) -> go.Figure:
    """A COMPARABLE_FIGURES figure with the current run A and the pinned run B (dashed)."""
    runs = [current, pinned]
    labels = [run_label(current.config), run_label(pinned.config, pinned=True)]
    if name == "training_curves":
        return training_curves_figure(
            {label: [r] for label, r in zip(labels, runs, strict=True)}, dashes={labels[1]: PINNED_DASH}
        )
    if name == "decoder":
        return decoder_figure(runs, labels, dashes=[seed_dash(0), PINNED_DASH])
    if name == "generated_marginal":
        return generated_marginal_figure(runs, labels=labels)
    raise KeyError(f"no A/B figure named {name!r}; expected one of {COMPARABLE_FIGURES}")


def model_figures(result: TrainResult, y_values=SHOWN_Y_VALUES) -> dict[str, go.Figure]:
    """The figures of one trained model, by file name (the Train page and the CLI show these)."""
    return {name: model_figure(name, result, y_values) for name in MODEL_FIGURES}


# ----- training curves ---------------------------------------------------------------------------


def training_curves_figure(
    results_by_model: dict[str, list[TrainResult]], dashes: dict[str, str] | None = None
) -> go.Figure:
    """Exact ELBO (lines) and exact log p_θ(y) (dots) on the same validation y, every model and
    seed, against the truth's log p(y) on those y (dotted).

    Both curves are exact and on the same data, so the gap between a line and its dots is the
    inference gap of that run on the validation y; the first evaluations start far lower, so
    the y-axis shows where the runs end up.
    """
    fig = go.Figure()
    tails, true_value = [], None
    several = sum(len(rs) for rs in results_by_model.values()) > 1
    for name, results in results_by_model.items():
        drawn = [r for r in results if not r.diverged]
        for index, result in enumerate(drawn):
            evaluated = result.history.dropna(subset=["validation_elbo"])
            dash = (dashes or {}).get(name, seed_dash(index))
            _add_training_curve(fig, evaluated, name, result, index, several, dash)
            tails += _tail(evaluated)
            if true_value is None:
                true_value = _true_validation_log_likelihood(result.config)
    if true_value is not None:
        fig.add_hline(
            y=true_value,
            line=dict(color=TRUTH, dash="dot"),
            annotation_text=f"true log p(y), the same {VALIDATION_POINTS} validation y",
            annotation_position="bottom left",
        )
        tails.append(np.array([true_value]))
    _zoom_on(fig, tails)
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title=f"nats per y (mean over {VALIDATION_POINTS} validation y)")
    return layout(fig, "Training: exact ELBO (lines) and exact log p_θ(y) (dots), same validation y", 420)


def _add_training_curve(
    fig, evaluated, name: str, result: TrainResult, index: int, several: bool, dash: str
) -> None:
    """One run's exact ELBO (a line) and exact log p_θ(y) (dots)."""
    label = name if name.startswith(("A: ", "B: ")) else f"{name}, seed {result.config.seed}"
    point = "step %{x}: %{y:.4f} nats"
    fig.add_scatter(
        x=evaluated["step"],
        y=evaluated["validation_elbo"],
        mode="lines",
        line=dict(color=color_of(result), dash=dash),
        name=name if several else f"exact ELBO: {name}",
        legendgroup=name,
        showlegend=index == 0,
        hovertemplate=hover(f"{label}: exact ELBO", "elbo", point=point),
    )
    fig.add_scatter(
        x=evaluated["step"],
        y=evaluated["validation_log_likelihood"],
        mode="markers",
        marker=dict(color=color_of(result), size=5),
        name=f"exact log p_θ(y): {name}",
        legendgroup=name,
        showlegend=not several,
        hovertemplate=hover(f"{label}: exact log p_θ(y)", "log_likelihood", point=point),
    )


def _tail(evaluated) -> list[np.ndarray]:
    """A run's values past the first quarter of its steps: where the y-axis zooms in."""
    cut = evaluated["step"] > 0.25 * evaluated["step"].max()
    return [
        evaluated.loc[cut, "validation_elbo"].to_numpy(),
        evaluated.loc[cut, "validation_log_likelihood"].to_numpy(),
    ]


def _zoom_on(fig: go.Figure, tails: list[np.ndarray]) -> None:
    values = np.concatenate(tails) if tails else np.array([])
    values = values[np.isfinite(values)]
    if values.size:
        low, high = float(values.min()), float(values.max())
        pad = 0.1 * (high - low) + 1e-3
        fig.update_yaxes(range=[low - pad, high + pad])


def _true_validation_log_likelihood(config) -> float:
    """The truth's mean log p(y) over the validation y: the dots of a training curve average
    over those, so the line they are compared with must too."""
    return ground_truth.log_marginal(validation_data(config), config.noise_std).mean().item()


# ----- the decoder and what it generates ---------------------------------------------------------


def decoder_figure(
    results: list[TrainResult], labels: list[str] | None = None, dashes: list[str] | None = None
) -> go.Figure:
    """Learned f_φ(z) three ways: raw, aligned to the true latent, and as a quantile function.
    `labels` and `dashes` mark the runs (A and B) where the defaults, model and seed, would not."""
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.08,
        subplot_titles=(
            "learned decoder f_φ(z)",
            "aligned: f_φ(F⁻¹(u)) vs f(u)",
            "quantiles of f_φ(z) vs f(u)",
        ),
    )
    fig.add_scatter(
        x=U_GRID,
        y=ground_truth.f(U_GRID),
        name="ground truth f",
        line_color=TRUTH,
        hovertemplate=hover("ground truth f(u)", "truth_f", "u", "f(u)"),
        row=1,
        col=2,
    )
    fig.add_scatter(
        x=QUANTILE_LEVELS,
        y=ground_truth.quantiles_of_f(QUANTILE_LEVELS),
        name="ground truth quantiles",
        line=dict(color=TRUTH),
        hovertemplate=hover("quantiles of f(u)", "truth_quantiles", "level t", "f"),
        showlegend=False,
        row=1,
        col=3,
    )
    for index, result in enumerate(results):
        name = labels[index] if labels else _label(result, results)
        _add_decoder(fig, result, name, dashes[index] if dashes else seed_dash(index))
    fig.update_xaxes(title_text="model latent z", row=1, col=1)
    fig.update_xaxes(title_text="u = F(z)", row=1, col=2)
    fig.update_xaxes(title_text="level t", row=1, col=3)
    fig.update_yaxes(title_text="f_φ(z)", row=1, col=1)
    return layout(fig, "Decoder: learned (colour) vs ground truth (black)", 430)


def _add_decoder(fig: go.Figure, result: TrainResult, name: str, dash: str) -> None:
    """One run's decoder in the three panels: raw, aligned, quantiles."""
    model = result.model
    look = dict(color=color_of(result), dash=dash)
    z = prior_z_points(model, (0.001, 0.999), 400)
    decoded = model.decode(torch.tensor(z, dtype=torch.float32).unsqueeze(0))[0].detach()
    aligned = model.aligned_decoder(U_GRID)[0].numpy()
    quantiles = np.sort(model.aligned_decoder(QUANTILE_LEVELS)[0].numpy())
    fig.add_scatter(
        x=z,
        y=decoded.numpy(),
        name=name,
        line=look,
        legendgroup=name,
        hovertemplate=hover(f"{name}: f_φ(z)", "raw_decoder", "z", "f_φ(z)"),
        row=1,
        col=1,
    )
    for col, (x, y), text in (
        (2, (U_GRID, aligned), hover(f"{name}: f_φ(F⁻¹(u))", "aligned_decoder", "u", "f_φ")),
        (3, (QUANTILE_LEVELS, quantiles), hover(f"{name}: quantiles", "decoder_quantiles", "level t", "f_φ")),
    ):
        fig.add_scatter(
            x=x,
            y=y,
            name=name,
            line=look,
            legendgroup=name,
            showlegend=False,
            hovertemplate=text,
            row=1,
            col=col,
        )


def generated_marginal_figure(
    results: list[TrainResult], n_samples: int = 20000, labels: list[str] | None = None
) -> go.Figure:
    """Generated y (histogram) against the training data, with the model's exact p_θ(y) and
    the true p(y)."""
    noise_std = results[0].config.noise_std
    grid = marginal_y_grid(noise_std)
    fig = go.Figure()
    train_y, _ = training_data(results[0].config)
    fig.add_histogram(
        x=train_y.numpy(),
        histnorm="probability density",
        name="training data y",
        hovertemplate=hover("training data y", "data", "y", "density"),
        marker_color="#999999",
        opacity=0.45,
        nbinsx=60,
    )
    for index, result in enumerate(results):
        _add_generated(fig, result, labels[index] if labels else _label(result, results), grid, n_samples)
    truth = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig.add_scatter(
        x=grid,
        y=truth,
        name="ground truth p(y)",
        line=dict(color=TRUTH, width=3),
        hovertemplate=hover("ground truth p(y)", "true_marginal", "y", "p(y)"),
    )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="y")
    fig.update_yaxes(title="density")
    return layout(fig, "Generated data vs training data and the truth", 420)


def _add_generated(fig: go.Figure, result: TrainResult, name: str, grid, n_samples: int) -> None:
    """One run's generated y (a histogram) and exact p_θ(y) (dashed)."""
    samples = result.model.sample_y(n_samples, seed=result.config.seed)[0].numpy()
    fig.add_histogram(
        x=samples,
        histnorm="probability density",
        name=f"generated y: {name}",
        hovertemplate=hover(f"generated y: {name}", "generated", "y", "density"),
        marker_color=color_of(result),
        opacity=0.35,
        nbinsx=80,
        legendgroup=name,
    )
    density = torch.exp(exact.log_marginal(result.model, grid)[0]).numpy()
    fig.add_scatter(
        x=grid,
        y=density,
        name=f"exact p_θ(y): {name}",
        legendgroup=name,
        line=dict(color=color_of(result), dash="dash"),
        hovertemplate=hover(f"exact p_θ(y): {name}", "model_marginal", "y", "p_θ(y)"),
    )


def _label(result: TrainResult, results: list[TrainResult]) -> str:
    """'MFG-VAE' alone, or 'MFG-VAE s1' when several seeds of a model are drawn together."""
    same_model = [r for r in results if r.config.model_name == result.config.model_name]
    if len(same_model) > 1:
        return f"{result.config.model_name} s{result.config.seed}"
    return result.config.model_name


# ----- posteriors --------------------------------------------------------------------------------


def posterior_figure(result: TrainResult, y_values=SHOWN_Y_VALUES) -> go.Figure:
    """Top: q(z|y) against the model's own exact p_θ(z|y) in the model's latent, with their
    exact KL (the inference gap at that y). Bottom: the true p(z|y) in the truth's latent.

    The two latents are not compared point by point: the model may arrange its latent in any
    of many ways that give the same p(y), so the truth cannot be drawn in the model's latent.
    """
    model, y_values = result.model, list(y_values)
    gaps = exact.inference_gap(model, y_values)[0].tolist()
    groups, columns = y_panel_grid(len(y_values))
    # Two short lines a title: on one line ("y = 0.05: KL(q ‖ p_θ) = 0.0123") four titles at
    # lecture font overlap their neighbours (tests/test_plots_style.py measures them). Each
    # group of panels is a model row over a truth row.
    titles = []
    for group in range(groups):
        shown = list(zip(y_values, gaps, strict=True))[group * columns : (group + 1) * columns]
        titles += padded_rows([f"y = {y:g}<br>KL(q‖p_θ) = {gap:.3g}" for y, gap in shown], columns)
        titles += padded_rows([f"truth, y = {y:g}" for y, _ in shown], columns)
    height = POSTERIORS_HEIGHT + (groups - 1) * POSTERIORS_GROUP_HEIGHT
    fig = make_subplots(
        rows=2 * groups,
        cols=columns,
        subplot_titles=titles,
        vertical_spacing=POSTERIORS_GAP_PX / height,
    )
    for index, (y, (low, high)) in enumerate(zip(y_values, posterior_ranges(model, y_values), strict=True)):
        group, col = y_panel_place(index, columns)
        model_row, truth_row = 2 * group - 1, 2 * group
        _add_model_posterior(fig, result, y, np.linspace(low, high, 600), model_row, col)
        fig.add_scatter(
            **true_posterior_slice(result.config.noise_std, y),
            name="true p(z|y), truth's own latent",
            line=dict(color=TRUTH, width=1.5),
            hovertemplate=hover(f"true p(z|y = {y:g})", "true_posterior", "z", "density"),
            showlegend=index == 0,
            legendgroup="t",
            row=truth_row,
            col=col,
        )
        fig.update_xaxes(title_text="model latent z", row=model_row, col=col)
        fig.update_xaxes(title_text="true latent z ∈ [0, 1]", range=[0, 1], row=truth_row, col=col)
        fig.update_yaxes(rangemode="tozero", row=model_row, col=col)
        fig.update_yaxes(rangemode="tozero", row=truth_row, col=col)
    fig.update_yaxes(title_text="density", row=1, col=1)
    fig.update_yaxes(title_text="true density", row=2, col=1)
    fig.update_annotations(font_size=12)
    title = f"Posteriors of {result.config.model_name} (seed {result.config.seed})"
    # The top margin holds the figure's title above the first row's two-line titles.
    return layout(fig, title, height).update_layout(
        legend_y=-0.15 * POSTERIORS_HEIGHT / height, margin_t=POSTERIORS_TOP_PX
    )


def _add_model_posterior(
    fig: go.Figure, result: TrainResult, y: float, z: np.ndarray, row: int, col: int
) -> None:
    """The model's exact p_θ(z|y) (dashed) and the encoder's q(z|y) in a model panel."""
    model, first = result.model, (row, col) == (1, 1)
    q = model.posterior_density([y], z)[0, 0].numpy()
    model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
    fig.add_scatter(
        x=z,
        y=model_posterior,
        name="model's exact p_θ(z|y)",
        line=dict(color=EXACT_COLOR, dash="dash"),
        hovertemplate=hover(f"model's exact p_θ(z|y = {y:g})", "exact_posterior", "z", "density"),
        showlegend=first,
        legendgroup="e",
        row=row,
        col=col,
    )
    fig.add_scatter(
        x=z,
        y=q,
        name="encoder q(z|y)",
        line=dict(color=color_of(result), width=2.5),
        hovertemplate=hover(f"encoder q(z|y = {y:g})", "q", "z", "density"),
        showlegend=first,
        legendgroup="q",
        row=row,
        col=col,
    )


# ----- the prior ---------------------------------------------------------------------------------


def prior_figure(runs: list[Shown]) -> go.Figure:
    """The prior (with its M components when learned) against the aggregate posterior q(z), one
    panel per run (the Train page's "see the prior", A and B)."""
    fig = go.Figure(layout=side_by_side(len(runs)))
    for index, run in enumerate(runs):
        _add_prior_panel(fig, run, index)
        fig.update_layout(panel_axes(index, dict(title="model latent z"), dict(rangemode="tozero")))
    titles = [panel_title(run.short_label, index, len(runs)) for index, run in enumerate(runs)]
    fig.update_layout(yaxis_title="density", annotations=titles if len(runs) > 1 else [])
    title = "Prior p(z) vs aggregate posterior q(z) = E_y q(z|y)"
    return layout(fig, title, 360, compact=True).update_layout(margin_b=110)


def _add_prior_panel(fig: go.Figure, run: Shown, index: int) -> None:
    model, axes, first = run.model, axis_refs(index), index == 0
    z = prior_z_points(model, (0.0005, 0.9995), 401, pad=0.15)
    if model.prior_kind == "mog":
        for row, component in enumerate(prior_components(model, z)):
            fig.add_trace(
                curve(
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
    prior = model.prior_density(z)[0].numpy()
    fig.add_trace(
        curve(
            z, prior, "prior p(z)", "prior", TRUTH, width=2.5, legendgroup="prior", showlegend=first, **axes
        )
    )
    aggregate = aggregate_posterior(model, run.config.noise_std, z)
    fig.add_trace(
        curve(
            z,
            aggregate,
            f"aggregate q(z) {run.label}",
            "aggregate",
            run.color,
            run.dash,
            3.0,
            fill="tozeroy",
            fillcolor=faint(run.color),
            **axes,
        )
    )


# ----- the decoder over training: animated on screen, static on paper ----------------------------


def decoder_animation_figure(result: TrainResult, frame_ms: int = ANIMATION_FRAME_MS) -> go.Figure:
    """The aligned decoder f_φ(F⁻¹(u)) at each snapshot, with a play button and a step slider."""
    steps, frames_data = result.snapshot_steps, result.snapshot_aligned
    color = color_of(result)
    truth = _truth_curve()

    def learned(index):
        return _snapshot_curve(result, index, f"learned, step {steps[index]}", color, 3)

    last = len(steps) - 1
    fig = go.Figure(
        data=[truth, learned(last)],
        # Each frame brings its own y-range: one range for all would be set by the first
        # frames (an untrained decoder spans far more than f) and flatten the later ones.
        frames=[
            go.Frame(
                data=[truth, learned(i)],
                name=str(s),
                layout=dict(yaxis=dict(range=_decoder_range(frames_data[i]))),
            )
            for i, s in enumerate(steps)
        ],
    )
    fig.update_layout(updatemenus=[_play_buttons(frame_ms)], sliders=[_step_slider(steps, last)])
    _decoder_axes(fig, frames_data[last])
    return layout(
        fig, "Training animation: the decoder on the true latent's scale at each snapshot", 470, compact=True
    ).update_layout(
        margin=dict(t=80, b=150),
        uirevision=None,
        # Above the plot: below it, the legend ran into the play buttons and the slider.
        legend=dict(y=1.0, yanchor="bottom", x=1, xanchor="right"),
    )


def _play_buttons(frame_ms: int) -> dict:
    play = dict(
        frame=dict(duration=frame_ms, redraw=True),
        transition=dict(duration=frame_ms // 2),
        fromcurrent=True,
        mode="immediate",
    )
    return dict(
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


def _step_slider(steps, active: int) -> dict:
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True))
    return dict(
        active=active,
        x=0.2,
        y=-0.25,
        len=0.8,
        yanchor="top",
        currentvalue=dict(prefix="step "),
        steps=[dict(label=str(s), method="animate", args=[[str(s)], jump]) for s in steps],
    )


def decoder_snapshots_figure(result: TrainResult, max_lines: int = 8) -> go.Figure:
    """The same snapshots on paper: one line per snapshot, light (early) to dark (late)."""
    steps, frames_data = result.snapshot_steps, result.snapshot_aligned
    picks = np.unique(np.linspace(0, len(steps) - 1, min(max_lines, len(steps))).round().astype(int))
    truth = _truth_curve(width=3)
    scale = SHADES.get(result.config.model_name, "Greys")
    shades = plotly_colors.sample_colorscale(scale, np.linspace(0.3, 1.0, len(picks)))
    snapshots = [
        _snapshot_curve(result, index, f"step {steps[index]}", shade, 2)
        for shade, index in zip(shades, picks, strict=True)
    ]
    fig = go.Figure([truth, *snapshots])
    _decoder_axes(fig, frames_data)
    return layout(
        fig, "The decoder over training (light: early, dark: late)", 470, compact=True
    ).update_layout(margin_t=80, uirevision=None)


def _truth_curve(**extra) -> go.Scatter:
    return curve(
        SNAPSHOT_U,
        ground_truth.f(SNAPSHOT_U),
        "ground truth f(u)",
        "truth_f",
        TRUTH,
        xname="u",
        yname="f",
        **extra,
    )


def _snapshot_curve(result: TrainResult, index: int, name: str, color: str, width: float) -> go.Scatter:
    """The aligned decoder at the index-th snapshot."""
    return curve(
        SNAPSHOT_U,
        result.snapshot_aligned[index],
        name,
        "aligned_decoder",
        color,
        width=width,
        xname="u",
        yname="f_φ(F⁻¹(u))",
    )


def _decoder_range(values: np.ndarray) -> list[float]:
    """A y-range holding f's range [0, ¼] (with a margin) and every finite value given."""
    finite = values[np.isfinite(values)]
    low = min(-0.1, float(finite.min()) if finite.size else 0.0)
    high = max(0.35, float(finite.max()) if finite.size else 0.3)
    return [low - 0.05, high + 0.05]


def _decoder_axes(fig: go.Figure, values: np.ndarray) -> None:
    fig.update_yaxes(title="f_φ(F⁻¹(u))", range=_decoder_range(values))
    fig.update_xaxes(title="u = F_prior(z)", range=[0, 1])
