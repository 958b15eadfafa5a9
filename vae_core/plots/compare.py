"""The Compare page's figures (the paper's Figures 2–4): every model and seed side by side, one
panel per model. The training curves of a comparison are run.training_curves_figure. Pure
functions, no streamlit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vae_core import exact, ground_truth
from vae_core.paper import SHOWN_Y_VALUES
from vae_core.plots.ranges import U_GRID, marginal_y_grid, posterior_ranges
from vae_core.plots.style import EXACT_COLOR, TRUTH, color_of, hover, layout, seed_dash
from vae_core.training import TrainResult

TWO_LINE_TITLES_MARGIN = 125  # px above the plot: room for the two-line panel titles


def compare_decoders_figure(results_by_model: dict[str, list[TrainResult]]) -> go.Figure:
    """Aligned decoders of every model and seed, one panel per model, truth in each."""
    names = list(results_by_model)
    fig = _model_panels(names)
    for col, name in enumerate(names, start=1):
        fig.add_scatter(
            x=U_GRID,
            y=ground_truth.f(U_GRID),
            name="ground truth f(u)",
            line_color=TRUTH,
            hovertemplate=hover("ground truth f(u)", "truth_f", "u", "f(u)"),
            showlegend=col == 1,
            row=1,
            col=col,
        )
        for index, result in _drawn(results_by_model[name]):
            fig.add_scatter(
                x=U_GRID,
                y=result.model.aligned_decoder(U_GRID)[0].numpy(),
                name=f"seed {result.config.seed}",
                hovertemplate=hover(f"{name}, seed {result.config.seed}", "aligned_decoder", "u", "f_φ"),
                line=dict(color=color_of(result), dash=seed_dash(index)),
                showlegend=False,
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="u = F_prior(z)", row=1, col=col)
    fig.update_yaxes(title_text="f_φ(F⁻¹(u))", row=1, col=1)
    fig = layout(fig, "Learned decoders on the true latent's scale (one line per seed)", 420)
    return fig.update_layout(margin_t=TWO_LINE_TITLES_MARGIN)


def compare_generated_figure(results_by_model: dict[str, list[TrainResult]]) -> go.Figure:
    """Exact p_θ(y) of every model and seed against the true p(y)."""
    names = list(results_by_model)
    any_result = next(r for rs in results_by_model.values() for r in rs)
    noise_std = any_result.config.noise_std
    grid = marginal_y_grid(noise_std)
    truth = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig = _model_panels(names)
    for col, name in enumerate(names, start=1):
        fig.add_scatter(
            x=grid,
            y=truth,
            name="ground truth p(y)",
            hovertemplate=hover("ground truth p(y)", "true_marginal", "y", "p(y)"),
            showlegend=col == 1,
            line=dict(color=TRUTH, width=3),
            row=1,
            col=col,
        )
        for index, result in _drawn(results_by_model[name]):
            fig.add_scatter(
                x=grid,
                y=torch.exp(exact.log_marginal(result.model, grid)[0]).numpy(),
                name=f"seed {result.config.seed}",
                hovertemplate=hover(f"{name}, seed {result.config.seed}", "model_marginal", "y", "p_θ(y)"),
                showlegend=False,
                line=dict(color=color_of(result), dash=seed_dash(index)),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="y", row=1, col=col)
    fig.update_yaxes(title_text="exact p_θ(y)", row=1, col=1)
    fig = layout(fig, "Marginal likelihood of each model vs the truth", 400)
    return fig.update_layout(margin_t=TWO_LINE_TITLES_MARGIN)


def compare_posteriors_figure(
    results_by_model: dict[str, list[TrainResult]], y_values=SHOWN_Y_VALUES
) -> go.Figure:
    """q(z|y) (solid) and exact p_θ(z|y) (dashed) of the first seed: models × y values."""
    names = list(results_by_model)
    titles = [f"y = {y:g}" for _ in names for y in y_values]
    fig = make_subplots(rows=len(names), cols=len(y_values), subplot_titles=titles, vertical_spacing=0.12)
    for row, name in enumerate(names, start=1):
        fig.update_yaxes(title_text=_two_lines(name), row=row, col=1)
        result = next((r for r in results_by_model[name] if not r.diverged), None)
        if result is not None:
            _add_posterior_row(fig, name, result, y_values, row)
    fig.update_annotations(font_size=12)
    fig = layout(fig, "Posteriors at the paper's y values (first seed of each model)", 230 * len(names) + 80)
    # The default legend offset (a fraction of the plot height) leaves a gap on this tall figure.
    return fig.update_layout(legend_y=-70 / (230 * len(names) - 110), margin_l=90)


def _add_posterior_row(fig: go.Figure, name: str, result: TrainResult, y_values, row: int) -> None:
    """One model's q(z|y) and p_θ(z|y) at every y. Each panel gets its own z-range where its two
    densities have mass: one shared by the row would also span far-out posteriors at other y and
    squash these to spikes."""
    model = result.model
    for col, (low, high) in enumerate(posterior_ranges(model, y_values), start=1):
        y, z = y_values[col - 1], np.linspace(low, high, 400)
        first = row == 1 and col == 1
        fig.add_scatter(
            x=z,
            y=exact.posterior(model, [y], z)[0, 0].numpy(),
            name="exact p_θ(z|y)",
            hovertemplate=hover(f"{name}: exact p_θ(z|y = {y:g})", "exact_posterior", "z", "density"),
            showlegend=first,
            legendgroup="e",
            line=dict(color=EXACT_COLOR, dash="dash"),
            row=row,
            col=col,
        )
        fig.add_scatter(
            x=z,
            y=model.posterior_density([y], z)[0, 0].numpy(),
            name="encoder q(z|y)",
            hovertemplate=hover(f"{name}: encoder q(z|y = {y:g})", "q", "z", "density"),
            showlegend=first,
            legendgroup="q",
            line=dict(color=color_of(result), width=2.5),
            row=row,
            col=col,
        )


def _model_panels(names: list[str]) -> go.Figure:
    """One panel per model in a row, sharing the y-axis, titled with the model's name."""
    return make_subplots(
        rows=1, cols=len(names), subplot_titles=[_two_lines(n) for n in names], shared_yaxes=True
    )


def _drawn(results: list[TrainResult]):
    """(seed index, result) of the runs that did not diverge: the index keeps each seed's dash."""
    return [(index, result) for index, result in enumerate(results) if not result.diverged]


def _two_lines(name: str) -> str:
    """A model name on two lines, so four panel titles fit side by side (also in lecture mode)."""
    for separator in (" (", " + "):
        if separator in name:
            head, tail = name.split(separator, 1)
            return f"{head}<br>{separator.strip()}{' ' if separator == ' + ' else ''}{tail}"
    return name
