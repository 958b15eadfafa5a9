"""How every figure looks: colours and dashes, the one layout helper, the one hover helper and
the sentence each curve says on hover (MEANINGS), and panels side by side without make_subplots.

Conventions: the ground truth is black, each model its own colour, the model's own exact
p_θ(z|y) olive and dashed; axis titles carry the symbols of docs/README.md.
"""

from __future__ import annotations

import textwrap

import plotly.colors as plotly_colors
import plotly.graph_objects as go

TRUTH = "black"
MODEL_COLORS = {
    "MFG-VAE": "#1f77b4",
    "MoG-VAE (MoG posterior)": "#d62728",
    "MFG-VAE + MoG prior": "#2ca02c",
    "MoG prior + MoG posterior": "#9467bd",
}
# Light to dark in each model's colour, for lines drawn in time order (any other model: greys).
SHADES = {
    "MFG-VAE": "Blues",
    "MoG-VAE (MoG posterior)": "Reds",
    "MFG-VAE + MoG prior": "Greens",
    "MoG prior + MoG posterior": "Purples",
}
# The model's own exact p_θ(z|y): olive, far from every model colour (an orange p_θ next to the
# red MoG-VAE line was hard to tell apart).
EXACT_COLOR = "#bcbd22"
PROBE_COLOR = "#e6550d"  # the chosen y, marked on p(y) and on the heat map
SEED_DASHES = ("solid", "dot", "dash", "longdash", "dashdot")
PINNED_DASH = "dash"  # the pinned run (B) is dashed, the current run (A) solid
HOVER_WIDTH = 60  # characters per line of a hover sentence: one long line is cut off by the chart

# One sentence per curve, shown on hover in every figure: what the line means, for a student
# who asks.
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
    "true_posterior_map": "How likely each true latent z is to have produced this y (a vertical "
    "slice is the posterior at that y).",
    "prior": "The prior p(z): where the model puts z before seeing any y.",
    "prior_component": "One of the learned prior's M equal-weight components, at 1/M of its height.",
    "aggregate": "The aggregate posterior q(z) = E_y q(z|y) over the true data: where the encoder "
    "actually sends the data. The KL term pulls it towards the prior.",
    "probe": "The chosen y: the posterior figure shows q(z|y) and p_θ(z|y) for it.",
    "elbo": "The exact ELBO on the validation y, the objective training maximises: a lower bound "
    "on log p_θ(y).",
    "log_likelihood": "The exact log-likelihood log p_θ(y) on the same validation y; its distance "
    "above the ELBO is the inference gap.",
    "encoder_mean": "The mean of the encoder's q(z|y) at each y (the band: ± one standard "
    "deviation): the z the encoder sends this y to.",
    "encoder_component": "The mean of one of q(z|y)'s M components at each y: a mixture "
    "posterior can follow several modes at once.",
    "exact_posterior_moments": "The mean (and ± one standard deviation) of the model's own exact "
    "posterior p_θ(z|y): a single summary of a posterior that may have several modes.",
    "train_elbo": "The ELBO of each training batch (a running mean over the last steps): it rises "
    "as the model learns.",
}
# The heat maps of p(z|y) over (y, z): what the hover says at a pixel.
HEATMAP_POINT = "y = %{x:.3f}, z = %{y:.3f}: p(z|y) = %{z:.2f}"

# A finished run's figures: the legend below the axis titles (above the plot it would collide
# with subplot titles).
PAGE_LAYOUT = dict(
    margin=dict(l=60, r=20, t=70, b=100),
    legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
)
# The compact figures redrawn live: the legend below the plot, so it never covers the panel
# titles however many runs it names; uirevision keeps the user's zoom and legend clicks across
# redraws of the same figure.
COMPACT_LAYOUT = dict(
    margin=dict(l=55, r=15, t=60, b=40),
    legend=dict(orientation="h", yanchor="top", y=-0.28, x=0, font_size=11),
    uirevision="live",
)
PANEL_GAP = 0.07  # between panels side by side, as a fraction of the figure's width
# Panels per row of a one-panel-per-y figure: at lecture font (20 px) a fifth panel's title
# would run into its neighbour's at 1400 px; more y values wrap onto further rows.
PANELS_PER_ROW = 4


def layout(fig: go.Figure, title: str, height: int = 420, compact: bool = False) -> go.Figure:
    """The layout every figure shares: PAGE_LAYOUT, or COMPACT_LAYOUT for the live view's."""
    if compact:
        fig.update_layout(
            title=dict(text=title, font_size=15), template="plotly_white", height=height, **COMPACT_LAYOUT
        )
    else:
        fig.update_layout(title=title, template="plotly_white", height=height, **PAGE_LAYOUT)
    return fig


def hover(
    name: str, meaning: str, x: str = "x", y: str = "y", x_format: str = ":.3f", point: str | None = None
) -> str:
    """The hover text of a curve: its name, what it means (MEANINGS[meaning]) and the point
    (`x = …, y = …` unless `point` says otherwise)."""
    point = point or f"{x} = %{{x{x_format}}}, {y} = %{{y:.3f}}"
    return f"<b>{name}</b><br>{wrapped(MEANINGS[meaning])}<br>{point}<extra></extra>"


def wrapped(sentence: str, width: int = HOVER_WIDTH) -> str:
    """A sentence on short lines: one long line is cut off at the edge of a narrow chart."""
    return "<br>".join(textwrap.wrap(sentence, width))


def color_of(result) -> str:
    """A trained result's colour: its model's."""
    return MODEL_COLORS[result.config.model_name]


def seed_dash(index: int) -> str:
    """The dash of the index-th seed of a model drawn together."""
    return SEED_DASHES[index % len(SEED_DASHES)]


def faint(color: str, alpha: float = 0.15) -> str:
    """A hex colour as a translucent fill."""
    red, green, blue = plotly_colors.hex_to_rgb(color)
    return f"rgba({red}, {green}, {blue}, {alpha})"


def curve(
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
    """One line with its hover sentence (MEANINGS[meaning])."""
    return go.Scatter(
        x=x,
        y=y,
        name=name,
        mode=mode,
        line=dict(color=color, dash=dash, width=width),
        hovertemplate=hover(name, meaning, xname, yname),
        **extra,
    )


# ----- panels side by side ---------------------------------------------------------------------


def side_by_side(n: int) -> dict:
    """Axis domains for n panels in a row, without make_subplots (several ms per figure)."""
    width = _panel_width(n)
    axes = {}
    for index in range(n):
        suffix = _suffix(index)
        start = index * (width + PANEL_GAP)
        axes[f"xaxis{suffix}"] = dict(domain=[start, start + width], anchor=f"y{suffix}")
        axes[f"yaxis{suffix}"] = dict(anchor=f"x{suffix}")
    return axes


def axis_refs(index: int) -> dict:
    """The trace arguments that put a trace in the index-th panel of `side_by_side`."""
    suffix = _suffix(index)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def panel_axes(index: int, xaxis: dict, yaxis: dict) -> dict:
    """A layout update of the index-th panel's axes."""
    suffix = _suffix(index)
    return {f"xaxis{suffix}": xaxis, f"yaxis{suffix}": yaxis}


def panel_title(text: str, index: int, n: int) -> dict:
    """The title above the index-th of n panels, as an annotation."""
    width = _panel_width(n)
    return dict(
        text=text,
        x=index * (width + PANEL_GAP) + width / 2,
        y=1.0,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        showarrow=False,
        font_size=13,
    )


def _panel_width(n: int) -> float:
    return (1 - PANEL_GAP * (n - 1)) / n


def _suffix(index: int) -> str:
    return "" if index == 0 else str(index + 1)


def y_panel_grid(n: int) -> tuple[int, int]:
    """(rows, columns) of a figure with one panel per y, PANELS_PER_ROW at most in a row."""
    columns = max(1, min(n, PANELS_PER_ROW))
    return -(-n // columns), columns


def y_panel_place(index: int, columns: int) -> tuple[int, int]:
    """(row, column), both from 1, of the index-th y's panel in a grid of `columns`."""
    return index // columns + 1, index % columns + 1


def padded_rows(titles: list[str], columns: int) -> list[str]:
    """Titles in rows of `columns`, the last row padded with "" (make_subplots fills row by row)."""
    return titles + [""] * (-len(titles) % columns)
