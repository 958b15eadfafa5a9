"""Plotly figures as pure functions: results in, go.Figure out. No streamlit here.

Conventions used in every figure: the ground truth is black, the model's exact quantities are
dashed, the encoder's q(z|y) is solid and coloured; axis titles carry the symbols of docs/README.md.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vae_core import exact, ground_truth
from vae_core.data import VALIDATION_POINTS, training_data, validation_data
from vae_core.ground_truth import y_grid
from vae_core.metrics import QUANTILE_LEVELS
from vae_core.training import SNAPSHOT_U, TrainResult

TRUTH = "black"
MODEL_COLORS = {
    "MFG-VAE": "#1f77b4",
    "MoG-VAE (MoG posterior)": "#d62728",
    "MFG-VAE + MoG prior": "#2ca02c",
    "MoG prior + MoG posterior": "#9467bd",
}
SEED_DASHES = ("solid", "dot", "dash", "longdash", "dashdot")
PAPER_Y_VALUES = (1.0, 0.2, 0.05, -3.0)
U_GRID = (np.arange(400) + 0.5) / 400


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
    fig = go.Figure(go.Scatter(x=z, y=ground_truth.f(z), name="ground truth f(z)", line_color=TRUTH))
    fig.update_xaxes(title="latent z ~ U(0, 1)")
    fig.update_yaxes(title="f(z) = E[y | z]")
    return _layout(fig, "True decoder f(z): four z's for every y in (0, 0.25)", 380)


def true_marginal_figure(noise_std: float, data_y=None) -> go.Figure:
    grid = y_grid(noise_std)
    density = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig = go.Figure()
    if data_y is not None:
        fig.add_histogram(x=np.asarray(data_y), histnorm="probability density", name="sampled data y",
                          marker_color="#aaaaaa", opacity=0.6, nbinsx=60)
    fig.add_scatter(x=grid, y=density, name="exact p(y) (quadrature)", line_color=TRUTH)
    fig.update_xaxes(title="observed y")
    fig.update_yaxes(title="density p(y)")
    return _layout(fig, f"Marginal p(y) at σ = {noise_std:g}", 380)


def true_posterior_heatmap(noise_std: float, n_y: int = 241, n_z: int = 301) -> go.Figure:
    ys = np.linspace(-0.1, 0.35, n_y)
    zs = np.linspace(0, 1, n_z)
    density = ground_truth.posterior_grid(ys, noise_std, zs).numpy()
    fig = go.Figure(go.Heatmap(x=ys, y=zs, z=density.T, colorscale="Viridis",
                               colorbar=dict(title="p(z|y)")))
    fig.update_xaxes(title="observed y")
    fig.update_yaxes(title="latent z")
    return _layout(fig, f"Ground-truth posterior p(z | y), σ = {noise_std:g}", 460)


def true_posterior_slices(noise_std: float, y_values=PAPER_Y_VALUES) -> go.Figure:
    """One panel per y, each on its own scale: y = 1's single spike would flatten the
    four-mode slices inside the data if they shared an axis."""
    zs = np.linspace(0, 1, 801)
    density = ground_truth.posterior_grid(list(y_values), noise_std, zs).numpy()
    fig = make_subplots(rows=1, cols=len(y_values),
                        subplot_titles=[f"y = {y:g}" for y in y_values])
    for col, row in enumerate(density, start=1):
        fig.add_scatter(x=zs, y=row, name="ground truth p(z | y)", line_color=TRUTH,
                        showlegend=col == 1, row=1, col=col)
        fig.update_xaxes(title_text="latent z", row=1, col=col)
    fig.update_yaxes(title_text="density p(z | y)", row=1, col=1)
    return _layout(fig, "Ground-truth posterior slices: up to four modes per y", 400)


# ----- one trained model ------------------------------------------------------------------------


def decoder_figure(results: list[TrainResult]) -> go.Figure:
    """Learned f_φ(z) three ways: raw, aligned to the true latent, and as a quantile function."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
        "learned decoder f_φ(z)", "aligned: f_φ(F⁻¹(u)) vs f(u)", "quantiles of f_φ(z) vs f(u)"))
    fig.add_scatter(x=U_GRID, y=ground_truth.f(U_GRID), name="ground truth f", line_color=TRUTH,
                    row=1, col=2)
    fig.add_scatter(x=QUANTILE_LEVELS, y=ground_truth.quantiles_of_f(QUANTILE_LEVELS),
                    name="ground truth quantiles", line=dict(color=TRUTH), showlegend=False,
                    row=1, col=3)
    for index, result in enumerate(results):
        model, name = result.model, _label(result, results)
        style = dict(color=color_of(result), dash=SEED_DASHES[index % len(SEED_DASHES)])
        low, high = model.prior_quantile([0.001, 0.999])[0].tolist()
        z = np.linspace(low, high, 400)
        decoded = model.decode(torch.tensor(z, dtype=torch.float32).unsqueeze(0))[0].detach()
        aligned = model.aligned_decoder(U_GRID)[0].numpy()
        quantiles = np.sort(model.aligned_decoder(QUANTILE_LEVELS)[0].numpy())
        fig.add_scatter(x=z, y=decoded.numpy(), name=name, line=style, legendgroup=name,
                        row=1, col=1)
        for col, (x, y) in ((2, (U_GRID, aligned)), (3, (QUANTILE_LEVELS, quantiles))):
            fig.add_scatter(x=x, y=y, name=name, line=style, legendgroup=name, showlegend=False,
                            row=1, col=col)
    fig.update_xaxes(title_text="model latent z", row=1, col=1)
    fig.update_xaxes(title_text="u = F(z)", row=1, col=2)
    fig.update_xaxes(title_text="level t", row=1, col=3)
    fig.update_yaxes(title_text="f_φ(z)", row=1, col=1)
    return _layout(fig, "Decoder: learned (colour) vs ground truth (black)", 430)


def generated_marginal_figure(results: list[TrainResult], n_samples: int = 20000) -> go.Figure:
    """Generated y (histogram) against the training data, with the model's exact p_θ(y) and
    the true p(y)."""
    noise_std = results[0].config.noise_std
    grid = np.linspace(-0.2 - 4 * noise_std, 0.45 + 4 * noise_std, 600)
    fig = go.Figure()
    train_y, _ = training_data(results[0].config)
    fig.add_histogram(x=train_y.numpy(), histnorm="probability density", name="training data y",
                      marker_color="#999999", opacity=0.45, nbinsx=60)
    for result in results:
        name = _label(result, results)
        samples = result.model.sample_y(n_samples, seed=result.config.seed)[0].numpy()
        fig.add_histogram(x=samples, histnorm="probability density", name=f"generated y: {name}",
                          marker_color=color_of(result), opacity=0.35, nbinsx=80,
                          legendgroup=name)
        density = torch.exp(exact.log_marginal(result.model, grid)[0]).numpy()
        fig.add_scatter(x=grid, y=density, name=f"exact p_θ(y): {name}", legendgroup=name,
                        line=dict(color=color_of(result), dash="dash"))
    truth = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig.add_scatter(x=grid, y=truth, name="ground truth p(y)", line=dict(color=TRUTH, width=3))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="y")
    fig.update_yaxes(title="density")
    return _layout(fig, "Generated data vs training data and the truth", 420)


def model_figures(result: TrainResult, y_values=PAPER_Y_VALUES) -> dict[str, go.Figure]:
    """The figures of one trained model, by file name (the Train page and the CLI show these)."""
    return {
        "training_curves": elbo_curves_figure([result]),
        "decoder": decoder_figure([result]),
        "generated_marginal": generated_marginal_figure([result]),
        "posteriors": posterior_figure(result, y_values),
    }


def posterior_figure(result: TrainResult, y_values=PAPER_Y_VALUES) -> go.Figure:
    """q(z|y) next to the model's exact p_θ(z|y) and the ground truth, one panel per y."""
    model = result.model
    z = posterior_z_range(model, y_values, 600)
    q = model.posterior_density(list(y_values), z)[0].numpy()
    model_posterior = exact.posterior(model, list(y_values), z)[0].numpy()
    truth = _true_posterior_in_model_latent(result, list(y_values), z)
    fig = make_subplots(rows=1, cols=len(y_values), subplot_titles=[f"y = {y:g}" for y in y_values])
    for col, _ in enumerate(y_values, start=1):
        first = col == 1
        fig.add_scatter(x=z, y=truth[col - 1], name="ground truth p(z|y), via u = F(z)",
                        line=dict(color=TRUTH, width=1.5), showlegend=first, legendgroup="t",
                        row=1, col=col)
        fig.add_scatter(x=z, y=model_posterior[col - 1], name="model's exact p_θ(z|y)",
                        line=dict(color="#ff7f0e", dash="dash"), showlegend=first,
                        legendgroup="e", row=1, col=col)
        fig.add_scatter(x=z, y=q[col - 1], name="encoder q(z|y)",
                        line=dict(color=color_of(result), width=2.5), showlegend=first,
                        legendgroup="q", row=1, col=col)
        fig.update_xaxes(title_text="model latent z", row=1, col=col)
    fig.update_yaxes(title_text="density", row=1, col=1)
    return _layout(fig, f"Posteriors of {result.config.model_name} (seed {result.config.seed})", 400)


def posterior_z_range(model, y_values, n_points: int) -> np.ndarray:
    """z-points covering the prior's bulk and the mass of q(z|y) and p_θ(z|y) at every y.

    Outside the data (y = 1, −3) the posteriors can sit far in the prior's tail."""
    low, high = model.prior_quantile([0.01, 0.99])[0].tolist()
    posterior = model.posterior(torch.tensor([list(y_values)], dtype=torch.float32))
    locs, scales = posterior.locs.detach()[0], posterior.scales.detach()[0]
    low = min(low, (locs - 4 * scales).min().item())
    high = max(high, (locs + 4 * scales).max().item())
    grid, spacing = exact.latent_grid(model)
    cumulative = (exact.posterior(model, list(y_values), grid)[0] * spacing).cumsum(dim=-1)
    for row in cumulative:
        inside = torch.nonzero((row > 5e-4) & (row < 1 - 5e-4)).flatten()
        if len(inside):
            low = min(low, grid[inside[0]].item())
            high = max(high, grid[inside[-1]].item())
    pad = 0.05 * (high - low)
    return np.linspace(low - pad, high + pad, n_points)


def _true_posterior_in_model_latent(result, y_values, z) -> np.ndarray:
    """The ground-truth p(u|y) moved to the model's latent by u = F_prior(z): p(F(z)|y)·p(z).

    Only meaningful up to the symmetries of f (u ↦ 1 − u and swapping the halves): it shows
    where a model that learned the truth's arrangement of the latent would put its mass.
    """
    model = result.model
    z_tensor = torch.tensor(z, dtype=torch.float32).unsqueeze(0)
    u = model.prior_distribution().cdf(z_tensor).detach().double()[0].clamp(0, 1).numpy()
    prior_density = model.prior_density(z)[0].numpy()
    cells = np.linspace(0, 1, 4001)
    grid = ground_truth.posterior_grid(y_values, result.config.noise_std, cells).numpy()
    return np.stack([np.interp(u, cells, row) * prior_density for row in grid])


def elbo_curves_figure(results: list[TrainResult], smooth: int = 25) -> go.Figure:
    """Train ELBO (running mean) and the periodic exact test log-likelihood, with the truth."""
    fig = go.Figure()
    for result in results:
        name, color = _label(result, results), color_of(result)
        history = result.history
        smoothed = history["train_elbo"].rolling(smooth, min_periods=1).mean()
        fig.add_scatter(x=history["step"], y=smoothed, name=f"train ELBO: {name}",
                        line=dict(color=color), legendgroup=name)
        evaluated = history.dropna(subset=["validation_log_likelihood"])
        fig.add_scatter(x=evaluated["step"], y=evaluated["validation_log_likelihood"], mode="markers",
                        name=f"exact validation log p_θ(y): {name}", marker=dict(color=color, size=6),
                        legendgroup=name)
    true_value = None
    if results:
        true_value = _true_validation_log_likelihood(results[0].config)
        fig.add_hline(y=true_value, line=dict(color=TRUTH, dash="dot"),
                      annotation_text="true log p(y) of the validation y",
                      annotation_position="bottom left")
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="nats per y", range=_converged_range(results, true_value))
    return _layout(fig, "Training curves", 400)


def _true_validation_log_likelihood(config) -> float:
    """The truth's mean log p(y) over the validation y: the dots of a training curve average
    over those, so the line they are compared with must too."""
    return ground_truth.log_marginal(validation_data(config), config.noise_std).mean().item()


def _converged_range(results: list[TrainResult], true_value) -> list[float] | None:
    """A y-range for the last 90% of training: the first steps' huge negative ELBOs would
    otherwise flatten the part worth reading."""
    tails = []
    for result in results:
        history = result.history
        tail = history[history["step"] > 0.1 * history["step"].max()]
        tails += [tail["train_elbo"].rolling(25, min_periods=1).mean(), tail["validation_log_likelihood"]]
    truth = [np.nan if true_value is None else true_value]
    values = np.concatenate([t.dropna().to_numpy() for t in tails] + [truth])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    pad = 0.1 * (high - low) + 1e-3
    return [low - pad, high + pad]


def live_elbo_figure(steps: np.ndarray, train_elbo: np.ndarray, labels: list[str],
                     total_steps: int, smooth: int = 25) -> go.Figure:
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
        fig.add_scatter(x=x, y=values, name=label, mode="lines")
    fig.update_xaxes(title="training step", range=[0, total_steps])
    fig.update_yaxes(title="train ELBO (running mean), nats")
    return _layout(fig, "Training live", 320)


def decoder_animation_figure(result: TrainResult) -> go.Figure:
    """The aligned decoder f_φ(F⁻¹(u)) over training, with a play button and a step slider."""
    steps, frames_data = result.snapshot_steps, result.snapshot_aligned
    truth = go.Scatter(x=U_GRID, y=ground_truth.f(U_GRID), name="ground truth f(u)",
                       line_color=TRUTH)

    def learned(index):
        return go.Scatter(x=SNAPSHOT_U, y=frames_data[index], name="learned f_φ(F⁻¹(u))",
                          line=dict(color=color_of(result), width=3))

    fig = go.Figure(data=[truth, learned(len(steps) - 1)],
                    frames=[go.Frame(data=[truth, learned(i)], name=str(s))
                            for i, s in enumerate(steps)])
    finite = frames_data[np.isfinite(frames_data)]
    low = min(-0.1, float(finite.min()) if finite.size else 0.0)
    high = max(0.35, float(finite.max()) if finite.size else 0.3)
    fig.update_yaxes(title="decoder on the true latent's scale", range=[low - 0.05, high + 0.05])
    fig.update_xaxes(title="u = F_prior(z)", range=[0, 1])
    fig.update_layout(
        updatemenus=[dict(type="buttons", x=0, y=-0.45, xanchor="left", buttons=[
            dict(label="▶ play", method="animate",
                 args=[None, dict(frame=dict(duration=120, redraw=True), fromcurrent=True)]),
            dict(label="❚❚ pause", method="animate",
                 args=[[None], dict(frame=dict(duration=0), mode="immediate")]),
        ])],
        sliders=[dict(active=len(steps) - 1, x=0.18, y=-0.4, len=0.8,
                      currentvalue=dict(prefix="step "),
                      steps=[dict(label=str(s), method="animate",
                                  args=[[str(s)], dict(mode="immediate",
                                                       frame=dict(duration=0, redraw=True))])
                             for s in steps])],
    )
    return _layout(fig, "Training animation: the decoder at each snapshot", 470)


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
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[_wrapped(n) for n in names],
                        shared_yaxes=True)
    for col, name in enumerate(names, start=1):
        fig.add_scatter(x=U_GRID, y=ground_truth.f(U_GRID), name="ground truth f(u)",
                        line_color=TRUTH, showlegend=col == 1, row=1, col=col)
        for index, result in enumerate(results_by_model[name]):
            if result.diverged:
                continue
            aligned = result.model.aligned_decoder(U_GRID)[0].numpy()
            fig.add_scatter(x=U_GRID, y=aligned, name=f"seed {result.config.seed}",
                            line=dict(color=color_of(result), dash=SEED_DASHES[index % 5]),
                            showlegend=False, row=1, col=col)
        fig.update_xaxes(title_text="u = F_prior(z)", row=1, col=col)
    fig.update_yaxes(title_text="f_φ(F⁻¹(u))", row=1, col=1)
    fig = _layout(fig, "Learned decoders on the true latent's scale (one line per seed)", 420)
    return fig.update_layout(margin_t=125)  # room for the two-line panel titles


def compare_generated_figure(results_by_model: dict[str, list[TrainResult]]) -> go.Figure:
    """Exact p_θ(y) of every model and seed against the true p(y)."""
    names = list(results_by_model)
    any_result = next(r for rs in results_by_model.values() for r in rs)
    noise_std = any_result.config.noise_std
    grid = np.linspace(-0.2 - 3 * noise_std, 0.45 + 3 * noise_std, 500)
    truth = torch.exp(ground_truth.log_marginal(grid, noise_std)).numpy()
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[_wrapped(n) for n in names],
                        shared_yaxes=True)
    for col, name in enumerate(names, start=1):
        fig.add_scatter(x=grid, y=truth, name="ground truth p(y)", showlegend=col == 1,
                        line=dict(color=TRUTH, width=3), row=1, col=col)
        for index, result in enumerate(results_by_model[name]):
            if result.diverged:
                continue
            density = torch.exp(exact.log_marginal(result.model, grid)[0]).numpy()
            fig.add_scatter(x=grid, y=density, name=f"seed {result.config.seed}", showlegend=False,
                            line=dict(color=color_of(result), dash=SEED_DASHES[index % 5]),
                            row=1, col=col)
        fig.update_xaxes(title_text="y", row=1, col=col)
    fig.update_yaxes(title_text="exact p_θ(y)", row=1, col=1)
    fig = _layout(fig, "Marginal likelihood of each model vs the truth", 400)
    return fig.update_layout(margin_t=125)  # room for the two-line panel titles


def compare_posteriors_figure(results_by_model: dict[str, list[TrainResult]],
                              y_values=PAPER_Y_VALUES) -> go.Figure:
    """q(z|y) (solid) and exact p_θ(z|y) (dashed) of the first seed: models × y values."""
    names = list(results_by_model)
    titles = [f"y = {y:g}" for _ in names for y in y_values]
    fig = make_subplots(rows=len(names), cols=len(y_values), subplot_titles=titles,
                        vertical_spacing=0.12)
    for row, name in enumerate(names, start=1):
        fig.update_yaxes(title_text=_wrapped(name), row=row, col=1)
        result = next((r for r in results_by_model[name] if not r.diverged), None)
        if result is None:
            continue
        model = result.model
        # Each panel gets its own z-grid where its two densities have mass: a grid shared by
        # the row would also span far-out posteriors at other y and squash these to spikes.
        for col, (low, high) in enumerate(_posterior_ranges(model, y_values), start=1):
            y, z = y_values[col - 1], np.linspace(low, high, 400)
            q = model.posterior_density([y], z)[0, 0].numpy()
            model_posterior = exact.posterior(model, [y], z)[0, 0].numpy()
            first = row == 1 and col == 1
            fig.add_scatter(x=z, y=model_posterior, name="exact p_θ(z|y)", showlegend=first,
                            legendgroup="e", line=dict(color="#ff7f0e", dash="dash"),
                            row=row, col=col)
            fig.add_scatter(x=z, y=q, name="encoder q(z|y)", showlegend=first,
                            legendgroup="q", line=dict(color=color_of(result), width=2.5),
                            row=row, col=col)
    fig.update_annotations(font_size=12)
    fig = _layout(fig, "Posteriors at the paper's y values (first seed of each model)",
                  230 * len(names) + 80)
    # The default legend offset (a fraction of the plot height) leaves a gap on this tall figure.
    return fig.update_layout(legend_y=-70 / (230 * len(names) - 110), margin_l=90)


def _posterior_ranges(model, y_values) -> list[tuple[float, float]]:
    """Per y: the z-interval holding q(z|y) (every component ± 4 scales) and all but 1e-3 of
    p_θ(z|y) (located on the model's fine latent grid), padded by 10 %."""
    posterior = model.posterior(torch.tensor([list(y_values)], dtype=torch.float32))
    locs = posterior.locs.detach()[0].double().reshape(len(y_values), -1)
    scales = posterior.scales.detach()[0].double().reshape(len(y_values), -1)
    grid, spacing = exact.latent_grid(model)
    cumulative = (exact.posterior(model, list(y_values), grid)[0] * spacing).cumsum(dim=-1)
    ranges = []
    for index in range(len(y_values)):
        low = (locs[index] - 4 * scales[index]).min().item()
        high = (locs[index] + 4 * scales[index]).max().item()
        inside = torch.nonzero((cumulative[index] > 5e-4)
                               & (cumulative[index] < 1 - 5e-4)).flatten()
        if len(inside):
            low = min(low, grid[inside[0]].item() - spacing)
            high = max(high, grid[inside[-1]].item() + spacing)
        pad = 0.1 * (high - low)
        ranges.append((low - pad, high + pad))
    return ranges


def compare_training_figure(results_by_model: dict[str, list[TrainResult]],
                            smooth: int = 25) -> go.Figure:
    """Train ELBO of every model and seed (one legend entry per model), zoomed on the end game.

    The first steps start tens of nats lower; the y-axis shows where the runs end up instead,
    next to the exact test log-likelihood (dots) and the truth's (dotted line).
    """
    fig = go.Figure()
    tails, true_value = [], None
    for name, results in results_by_model.items():
        drawn = [r for r in results if not r.diverged]
        for index, result in enumerate(drawn):
            history = result.history
            smoothed = history["train_elbo"].rolling(smooth, min_periods=1).mean()
            style = dict(color=color_of(result), dash=SEED_DASHES[index % len(SEED_DASHES)])
            fig.add_scatter(x=history["step"], y=smoothed, mode="lines", line=style,
                            name=name, legendgroup=name, showlegend=index == 0,
                            hovertemplate=f"{name}, seed {result.config.seed}<br>"
                                          "step %{x}: ELBO %{y:.3f}<extra></extra>")
            evaluated = history.dropna(subset=["validation_log_likelihood"])
            fig.add_scatter(x=evaluated["step"], y=evaluated["validation_log_likelihood"],
                            mode="markers", marker=dict(color=color_of(result), size=5),
                            name=name, legendgroup=name, showlegend=False,
                            hovertemplate=f"{name}, seed {result.config.seed}<br>step %{{x}}: "
                                          "exact validation log p_θ(y) %{y:.3f}<extra></extra>")
            tails.append(smoothed.to_numpy()[len(smoothed) // 4:])
            if true_value is None:
                true_value = _true_validation_log_likelihood(result.config)
    if true_value is not None:
        fig.add_hline(y=true_value, line=dict(color=TRUTH, dash="dot"),
                      annotation_text=f"true log p(y), same {VALIDATION_POINTS} validation y")
    finite = np.concatenate(tails)[np.isfinite(np.concatenate(tails))] if tails else np.array([])
    if finite.size:
        low = float(np.percentile(finite, 1))
        high = max(float(finite.max()), true_value if true_value is not None else -np.inf)
        margin = 0.1 * (high - low) + 0.01
        fig.update_yaxes(range=[low - margin, high + margin])
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="nats per y")
    return _layout(fig, f"Training: train ELBO (lines, running mean of {smooth} steps; one "
                        "line per seed) and exact validation log p_θ(y) (dots)", 420)


def _label(result: TrainResult, results: list[TrainResult]) -> str:
    """'MFG-VAE' alone, or 'MFG-VAE s1' when several seeds of a model are drawn together."""
    same_model = [r for r in results if r.config.model_name == result.config.model_name]
    if len(same_model) > 1:
        return f"{result.config.model_name} s{result.config.seed}"
    return result.config.model_name

