"""Plotly figures as pure functions: results in, go.Figure out. No streamlit here.

Conventions used in every figure: the ground truth is black, the model's exact quantities are
dashed, the encoder's q(z|y) is solid and coloured; axis titles carry the symbols of docs/README.md.
"""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vae_core import exact, ground_truth
from vae_core.data import VALIDATION_POINTS, training_data, validation_data
from vae_core.ground_truth import y_grid
from vae_core.metrics import QUANTILE_LEVELS
from vae_core.training import TrainResult

TRUTH = "black"
MODEL_COLORS = {
    "MFG-VAE": "#1f77b4",
    "MoG-VAE (MoG posterior)": "#d62728",
    "MFG-VAE + MoG prior": "#2ca02c",
    "MoG prior + MoG posterior": "#9467bd",
}
# The model's own exact p_θ(z|y): olive and dashed, far from every model colour (an orange
# p_θ next to the red MoG-VAE line was hard to tell apart).
EXACT_COLOR = "#bcbd22"
SEED_DASHES = ("solid", "dot", "dash", "longdash", "dashdot")
PAPER_Y_VALUES = (1.0, 0.2, 0.05, -3.0)
U_GRID = (np.arange(400) + 0.5) / 400
HOVER_WIDTH = 60  # characters per line of a hover sentence

# One sentence per curve, shown on hover in every figure: what the line means, for a student
# who asks. The live view's figures (live_figures.py) use the same sentences.
MEANINGS = {
    "truth_f": "The true decoder f(u): the mean of y for a true latent u ~ U(0, 1).",
    "truth_quantiles": "The quantile function of f(u), u ~ U(0, 1): the sorted values of the true "
    "decoder, which p(y) determines.",
    "raw_decoder": "The learned decoder f_φ(z): the mean of y the model predicts for its latent z.",
    "aligned_decoder": "The learned decoder on the true latent's scale, u = F_prior(z); "
    "a mirror or shuffle of f fits the data equally well.",
    "decoder_quantiles": "The quantile function of f_φ(z), z ~ p(z): the part of the decoder "
    "that p(y) pins down, whatever the latent's arrangement.",
    "true_marginal": "The exact density of the data, p(y) = ∫ N(y; f(u), σ²) du.",
    "model_marginal": "The model's exact density of y, p_θ(y) = ∫ N(y; f_φ(z), σ²) p(z) dz: "
    "what it generates.",
    "data": "A histogram of the data y the model is trained on.",
    "generated": "A histogram of y sampled from the model: z ~ p(z), then y ~ N(f_φ(z), σ²).",
    "q": "The encoder's answer q(z|y): which z it thinks produced this y.",
    "q_component": "One of q(z|y)'s M equal-weight components, drawn at 1/M of its height.",
    "exact_posterior": "The model's own exact posterior p_θ(z|y), the target q(z|y) is trained "
    "to match; the gap between them is the inference gap.",
    "true_posterior": "The exact posterior of the ground truth, p(z|y) in the truth's own latent: "
    "every z that could have produced this y (up to four).",
    "prior": "The prior p(z): where the model puts z before seeing any y.",
    "prior_component": "One of the learned prior's M equal-weight components, at 1/M of its height.",
    "aggregate": "The aggregate posterior q(z) = E_y q(z|y) over the true data: where the encoder "
    "actually sends the data. The KL term pulls it towards the prior.",
    "probe": "The chosen y: the posterior figure shows q(z|y) and p_θ(z|y) for it.",
    "elbo": "The exact ELBO on the validation y, the objective training maximises: a lower bound "
    "on log p_θ(y).",
    "log_likelihood": "The exact log-likelihood log p_θ(y) on the same validation y; its distance "
    "above the ELBO is the inference gap.",
    "train_elbo": "The ELBO of each training batch (a running mean over the last steps): it rises "
    "as the model learns.",
}


def hover(name: str, meaning: str, x: str = "x", y: str = "y", x_format: str = ":.3f") -> str:
    """The hover text of a curve: its name, what it means (MEANINGS[meaning]) and the point."""
    return (
        f"<b>{name}</b><br>{wrapped(MEANINGS[meaning])}<br>"
        f"{x} = %{{x{x_format}}}, {y} = %{{y:.3f}}<extra></extra>"
    )


def wrapped(sentence: str, width: int = HOVER_WIDTH) -> str:
    """A sentence on short lines: one long line is cut off at the edge of a narrow chart."""
    return "<br>".join(textwrap.wrap(sentence, width))


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=title,
        template="plotly_white",
        height=height,
        margin=dict(l=60, r=20, t=70, b=100),
        # Below the axis titles: above the plot it would collide with subplot titles.
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
    )
    return fig


def color_of(result: TrainResult) -> str:
    return MODEL_COLORS[result.config.model_name]


# ----- ground truth ------------------------------------------------------------------------------


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
    return _layout(fig, "True decoder f(z): four z's for every y in (0, 0.25)", 380)


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
    return _layout(fig, f"Marginal p(y) at σ = {noise_std:g}", 380)


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
            hovertemplate="<b>ground truth p(z|y)</b><br>"
            + wrapped(
                "How likely each true latent z is to have produced this y (a vertical slice is "
                "the posterior at that y)."
            )
            + "<br>"
            "y = %{x:.3f}, z = %{y:.3f}: p(z|y) = %{z:.2f}<extra></extra>",
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
    return _layout(fig, f"Ground-truth posterior p(z | y), σ = {noise_std:g}{note}", 460)


def true_posterior_slices(noise_std: float, y_values=PAPER_Y_VALUES) -> go.Figure:
    """One panel per y, each on its own scale from 0: y = 1's single spike would flatten the
    four-mode slices inside the data if they shared an axis. The z-points include a fine
    window around every mode, so each is drawn at its true height (exact, any σ)."""
    fig = make_subplots(rows=1, cols=len(y_values), subplot_titles=[f"y = {y:g}" for y in y_values])
    for col, y in enumerate(y_values, start=1):
        zs = ground_truth.posterior_z_nodes([y], noise_std)
        density = ground_truth.posterior_grid([y], noise_std, zs)[0].numpy()
        fig.add_scatter(
            x=zs.numpy(),
            y=density,
            name="ground truth p(z | y)",
            line_color=TRUTH,
            hovertemplate=hover(f"ground truth p(z | y = {y:g})", "true_posterior", "z", "p(z|y)"),
            showlegend=col == 1,
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="latent z", range=[0, 1], row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="density p(z | y)", row=1, col=1)
    return _layout(fig, "Ground-truth posterior slices: up to four modes per y", 400)


# ----- one trained model ------------------------------------------------------------------------


def decoder_figure(results: list[TrainResult]) -> go.Figure:
    """Learned f_φ(z) three ways: raw, aligned to the true latent, and as a quantile function."""
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
        model, name = result.model, _label(result, results)
        style = dict(color=color_of(result), dash=SEED_DASHES[index % len(SEED_DASHES)])
        low, high = model.prior_quantile([0.001, 0.999])[0].tolist()
        z = np.linspace(low, high, 400)
        decoded = model.decode(torch.tensor(z, dtype=torch.float32).unsqueeze(0))[0].detach()
        aligned = model.aligned_decoder(U_GRID)[0].numpy()
        quantiles = np.sort(model.aligned_decoder(QUANTILE_LEVELS)[0].numpy())
        fig.add_scatter(
            x=z,
            y=decoded.numpy(),
            name=name,
            line=style,
            legendgroup=name,
            hovertemplate=hover(f"{name}: f_φ(z)", "raw_decoder", "z", "f_φ(z)"),
            row=1,
            col=1,
        )
        for col, (x, y), text in (
            (2, (U_GRID, aligned), hover(f"{name}: f_φ(F⁻¹(u))", "aligned_decoder", "u", "f_φ")),
            (
                3,
                (QUANTILE_LEVELS, quantiles),
                hover(f"{name}: quantiles", "decoder_quantiles", "level t", "f_φ"),
            ),
        ):
            fig.add_scatter(
                x=x,
                y=y,
                name=name,
                line=style,
                legendgroup=name,
                showlegend=False,
                hovertemplate=text,
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="model latent z", row=1, col=1)
    fig.update_xaxes(title_text="u = F(z)", row=1, col=2)
    fig.update_xaxes(title_text="level t", row=1, col=3)
    fig.update_yaxes(title_text="f_φ(z)", row=1, col=1)
    return _layout(fig, "Decoder: learned (colour) vs ground truth (black)", 430)


def generated_marginal_figure(results: list[TrainResult], n_samples: int = 20000) -> go.Figure:
    """Generated y (histogram) against the training data, with the model's exact p_θ(y) and
    the true p(y)."""
    noise_std = results[0].config.noise_std
    grid = y_grid(noise_std, 600, n_std=4.0)
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
    for result in results:
        name = _label(result, results)
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
    return _layout(fig, "Generated data vs training data and the truth", 420)


def model_figure(name: str, result: TrainResult, y_values=PAPER_Y_VALUES) -> go.Figure:
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
    raise KeyError(f"no model figure named {name!r}; expected one of {MODEL_FIGURES}")


MODEL_FIGURES = ("training_curves", "decoder", "generated_marginal", "posteriors")


def model_figures(result: TrainResult, y_values=PAPER_Y_VALUES) -> dict[str, go.Figure]:
    """The figures of one trained model, by file name (the Train page and the CLI show these)."""
    return {name: model_figure(name, result, y_values) for name in MODEL_FIGURES}


def posterior_figure(result: TrainResult, y_values=PAPER_Y_VALUES) -> go.Figure:
    """Top: q(z|y) against the model's own exact p_θ(z|y) in the model's latent, with their
    exact KL (the inference gap at that y). Bottom: the true p(z|y) in the truth's latent.

    The two latents are not compared point by point: the model may arrange its latent in any
    of many ways that give the same p(y), so the truth cannot be drawn in the model's latent.
    """
    model, y_values = result.model, list(y_values)
    gaps = exact.inference_gap(model, y_values)[0].tolist()
    titles = [f"y = {y:g}: KL(q ‖ p_θ) = {gap:.3g}" for y, gap in zip(y_values, gaps, strict=True)]
    titles += [f"truth, y = {y:g}" for y in y_values]
    fig = make_subplots(rows=2, cols=len(y_values), subplot_titles=titles, vertical_spacing=0.2)
    for col, (y, (low, high)) in enumerate(
        zip(y_values, posterior_ranges(model, y_values), strict=True), start=1
    ):
        first = col == 1
        z = np.linspace(low, high, 600)
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
            row=1,
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
            row=1,
            col=col,
        )
        zs = ground_truth.posterior_z_nodes([y], result.config.noise_std)
        truth = ground_truth.posterior_grid([y], result.config.noise_std, zs)[0].numpy()
        fig.add_scatter(
            x=zs.numpy(),
            y=truth,
            name="true p(z|y), truth's own latent",
            line=dict(color=TRUTH, width=1.5),
            hovertemplate=hover(f"true p(z|y = {y:g})", "true_posterior", "z", "density"),
            showlegend=first,
            legendgroup="t",
            row=2,
            col=col,
        )
        fig.update_xaxes(title_text="model latent z", row=1, col=col)
        fig.update_xaxes(title_text="true latent z ∈ [0, 1]", range=[0, 1], row=2, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=2, col=col)
    fig.update_yaxes(title_text="density", row=1, col=1)
    fig.update_yaxes(title_text="true density", row=2, col=1)
    fig.update_annotations(font_size=12)
    title = f"Posteriors of {result.config.model_name} (seed {result.config.seed})"
    return _layout(fig, title, 620).update_layout(legend_y=-0.15)


def posterior_ranges(model, y_values) -> list[tuple[float, float]]:
    """Per y: the z-interval holding all but 1e-3 of q(z|y) and of p_θ(z|y), padded by 10 %.

    From the mass, not from every component ± a few scales: a far-out component of weight 1/M
    or a very wide one would otherwise stretch the axis until every curve is a needle."""
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
            20001,
            dtype=torch.float64,
        )
        q_cdf = type(q)(locs[index], scales[index]).cdf(q_grid)
        ends = []
        for points, cdf in ((q_grid, q_cdf), (grid, p_cdf[index])):
            where = torch.nonzero((cdf > 5e-4) & (cdf < 1 - 5e-4)).flatten()
            if len(where):
                ends += [points[where[0]].item(), points[where[-1]].item()]
        low, high = (min(ends), max(ends)) if ends else (-3.0, 3.0)
        pad = 0.1 * (high - low) + 1e-3
        ranges.append((low - pad, high + pad))
    return ranges


def training_curves_figure(results_by_model: dict[str, list[TrainResult]]) -> go.Figure:
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
            style = dict(color=color_of(result), dash=SEED_DASHES[index % len(SEED_DASHES)])
            label = f"{name}, seed {result.config.seed}"
            fig.add_scatter(
                x=evaluated["step"],
                y=evaluated["validation_elbo"],
                mode="lines",
                line=style,
                name=name if several else f"exact ELBO: {name}",
                legendgroup=name,
                showlegend=index == 0,
                hovertemplate=f"<b>{label}: exact ELBO</b><br>{wrapped(MEANINGS['elbo'])}<br>"
                "step %{x}: %{y:.4f} nats<extra></extra>",
            )
            fig.add_scatter(
                x=evaluated["step"],
                y=evaluated["validation_log_likelihood"],
                mode="markers",
                marker=dict(color=color_of(result), size=5),
                name=f"exact log p_θ(y): {name}",
                legendgroup=name,
                showlegend=not several,
                hovertemplate=f"<b>{label}: exact log p_θ(y)</b><br>{wrapped(MEANINGS['log_likelihood'])}<br>"
                "step %{x}: %{y:.4f} nats<extra></extra>",
            )
            cut = evaluated["step"] > 0.25 * evaluated["step"].max()
            tails += [
                evaluated.loc[cut, "validation_elbo"].to_numpy(),
                evaluated.loc[cut, "validation_log_likelihood"].to_numpy(),
            ]
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
    values = np.concatenate(tails) if tails else np.array([])
    values = values[np.isfinite(values)]
    if values.size:
        low, high = float(values.min()), float(values.max())
        pad = 0.1 * (high - low) + 1e-3
        fig.update_yaxes(range=[low - pad, high + pad])
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title=f"nats per y (mean over {VALIDATION_POINTS} validation y)")
    return _layout(fig, "Training: exact ELBO (lines) and exact log p_θ(y) (dots), same validation y", 420)


def _true_validation_log_likelihood(config) -> float:
    """The truth's mean log p(y) over the validation y: the dots of a training curve average
    over those, so the line they are compared with must too."""
    return ground_truth.log_marginal(validation_data(config), config.noise_std).mean().item()


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
    return _layout(fig, "Training live", 320)


# ----- comparison of models (the paper's Figures 2–4) ------------------------------------------


def _wrapped(name: str) -> str:
    """A model name on two lines, so four panel titles fit side by side (also in lecture mode)."""
    for separator in (" (", " + "):
        if separator in name:
            head, tail = name.split(separator, 1)
            return f"{head}<br>{separator.strip()}{' ' if separator == ' + ' else ''}{tail}"
    return name


def compare_decoders_figure(results_by_model: dict[str, list[TrainResult]]) -> go.Figure:
    """Aligned decoders of every model and seed, one panel per model, truth in each."""
    names = list(results_by_model)
    fig = make_subplots(
        rows=1, cols=len(names), subplot_titles=[_wrapped(n) for n in names], shared_yaxes=True
    )
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
        for index, result in enumerate(results_by_model[name]):
            if result.diverged:
                continue
            aligned = result.model.aligned_decoder(U_GRID)[0].numpy()
            fig.add_scatter(
                x=U_GRID,
                y=aligned,
                name=f"seed {result.config.seed}",
                hovertemplate=hover(f"{name}, seed {result.config.seed}", "aligned_decoder", "u", "f_φ"),
                line=dict(color=color_of(result), dash=SEED_DASHES[index % 5]),
                showlegend=False,
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="u = F_prior(z)", row=1, col=col)
    fig.update_yaxes(title_text="f_φ(F⁻¹(u))", row=1, col=1)
    fig = _layout(fig, "Learned decoders on the true latent's scale (one line per seed)", 420)
    return fig.update_layout(margin_t=125)  # room for the two-line panel titles


def compare_generated_figure(results_by_model: dict[str, list[TrainResult]]) -> go.Figure:
    """Exact p_θ(y) of every model and seed against the true p(y)."""
    names = list(results_by_model)
    any_result = next(r for rs in results_by_model.values() for r in rs)
    noise_std = any_result.config.noise_std
    grid = y_grid(noise_std, 600, n_std=4.0)
    truth = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig = make_subplots(
        rows=1, cols=len(names), subplot_titles=[_wrapped(n) for n in names], shared_yaxes=True
    )
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
        for index, result in enumerate(results_by_model[name]):
            if result.diverged:
                continue
            density = torch.exp(exact.log_marginal(result.model, grid)[0]).numpy()
            fig.add_scatter(
                x=grid,
                y=density,
                name=f"seed {result.config.seed}",
                hovertemplate=hover(f"{name}, seed {result.config.seed}", "model_marginal", "y", "p_θ(y)"),
                showlegend=False,
                line=dict(color=color_of(result), dash=SEED_DASHES[index % 5]),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="y", row=1, col=col)
    fig.update_yaxes(title_text="exact p_θ(y)", row=1, col=1)
    fig = _layout(fig, "Marginal likelihood of each model vs the truth", 400)
    return fig.update_layout(margin_t=125)  # room for the two-line panel titles


def compare_posteriors_figure(
    results_by_model: dict[str, list[TrainResult]], y_values=PAPER_Y_VALUES
) -> go.Figure:
    """q(z|y) (solid) and exact p_θ(z|y) (dashed) of the first seed: models × y values."""
    names = list(results_by_model)
    titles = [f"y = {y:g}" for _ in names for y in y_values]
    fig = make_subplots(rows=len(names), cols=len(y_values), subplot_titles=titles, vertical_spacing=0.12)
    for row, name in enumerate(names, start=1):
        fig.update_yaxes(title_text=_wrapped(name), row=row, col=1)
        result = next((r for r in results_by_model[name] if not r.diverged), None)
        if result is None:
            continue
        model = result.model
        # Each panel gets its own z-grid where its two densities have mass: a grid shared by
        # the row would also span far-out posteriors at other y and squash these to spikes.
        for col, (low, high) in enumerate(posterior_ranges(model, y_values), start=1):
            y, z = y_values[col - 1], np.linspace(low, high, 400)
            q = model.posterior_density([y], z)[0, 0].numpy()
            model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
            first = row == 1 and col == 1
            fig.add_scatter(
                x=z,
                y=model_posterior,
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
                y=q,
                name="encoder q(z|y)",
                hovertemplate=hover(f"{name}: encoder q(z|y = {y:g})", "q", "z", "density"),
                showlegend=first,
                legendgroup="q",
                line=dict(color=color_of(result), width=2.5),
                row=row,
                col=col,
            )
    fig.update_annotations(font_size=12)
    fig = _layout(fig, "Posteriors at the paper's y values (first seed of each model)", 230 * len(names) + 80)
    # The default legend offset (a fraction of the plot height) leaves a gap on this tall figure.
    return fig.update_layout(legend_y=-70 / (230 * len(names) - 110), margin_l=90)


def _label(result: TrainResult, results: list[TrainResult]) -> str:
    """'MFG-VAE' alone, or 'MFG-VAE s1' when several seeds of a model are drawn together."""
    same_model = [r for r in results if r.config.model_name == result.config.model_name]
    if len(same_model) > 1:
        return f"{result.config.model_name} s{result.config.seed}"
    return result.config.model_name
