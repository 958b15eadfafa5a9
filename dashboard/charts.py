"""Figures on screen: the one lecture styler, the one figure cache, charts (clickable ones
included, with Streamlit's selection events parsed here), and the downloads (PNG, ZIP, CSV).

The figures themselves are pure functions of vae_core; this module decides how they are
shown and when they are built.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.url_state import lecture_mode
from vae_core.export import ExportError, chrome_path, figure_to_png, figures_to_zip
from vae_core.ground_truth import sample
from vae_core.plots import compare, live, run, style, truth

CHART_CONFIG = {"displaylogo": False}  # the live view's charts (their PNG is the detail tabs')
LECTURE_VIEW_HEIGHT = 300  # px: two rows of the view fit under the tour on a 1920×1080 screen
ANIMATION = "training_animation"
SNAPSHOTS = "training_snapshots"  # the animation's still version, for PNG and ZIP
RUN_ZIP_FIGURES = (*run.MODEL_FIGURES, SNAPSHOTS)  # a run's figures in its ZIP (and the prior)


# ----- lecture mode --------------------------------------------------------------------------


def copy_figure(fig: go.Figure) -> go.Figure:
    """A copy of a figure other sessions may be copying at the same time.

    Not go.Figure(fig): plotly's copy constructor is not thread-safe, and when several sessions
    copied the shared truth heat map at once some got "Invalid property ... Scatter: 'colorbar'"
    (28 of 100 Train pages opened together, benchmarks/bench_class_ws.py). The dict is a deep
    copy made by the figure alone, so nothing shared is read while another thread builds.
    """
    return go.Figure(fig.to_dict())


def styled(fig: go.Figure, in_view: bool = False) -> go.Figure:
    """Lecture mode: figure text large enough for the back row of a lecture hall.

    A figure alone on its row grows (text and height); one of the live view's 2×2 grid
    (`in_view`) gets larger text at a fixed height, so that two rows fit on a screen.
    Figures are cached and shared between sessions, so lecture mode styles a copy.
    """
    if not lecture_mode():
        return fig
    fig = copy_figure(fig)
    if not in_view:
        fig.update_layout(font=dict(size=20), title_font_size=26)
        fig.update_annotations(font_size=20)
        if fig.layout.height:
            fig.update_layout(height=int(fig.layout.height * 1.25))
        return fig
    # A shorter plot: the legend (placed as a fraction of the plot's height) must go lower.
    fig.update_layout(
        font=dict(size=15),
        title_font_size=19,
        legend=dict(font_size=14, y=-0.45),
        height=LECTURE_VIEW_HEIGHT,
        margin_b=120,
    )
    fig.update_annotations(font_size=15)
    # The heat map's colour bar is only ~130 px tall here: fewer ticks, or they overlap.
    fig.update_traces(colorbar=dict(nticks=3, tickfont_size=12), selector=dict(type="heatmap"))
    return fig


def lecture_table_style() -> None:
    """Lecture mode: the tables' text as large as the rest (st.table has no size setting)."""
    if lecture_mode():
        st.markdown(
            "<style>[data-testid='stTable'] td, [data-testid='stTable'] th "
            "{font-size: 1.3rem !important;}</style>",
            unsafe_allow_html=True,
        )


# ----- the figure cache ----------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=512)
def _shared(key: tuple, _build: Callable[[], object]):
    return _build()


def shared(key: tuple[Hashable, ...], build: Callable[[], object]):
    """What `build` draws, built once for every session and rerun (`key` names it completely:
    its kind first, then everything it depends on). A class that trained one config, or opened
    one preset, draws its figures once, not once per student; the figures are never mutated
    (lecture mode styles a copy)."""
    return _shared(key, build)


def session_memo(name: str, key: tuple, build: Callable[[], object]):
    """What `build` draws, kept for this session until `key` changes: the live view's figures of
    a training run, which no other session shares and which an idle redraw need not rebuild."""
    memo = st.session_state.get(f"_memo.{name}")
    if memo is None or memo[0] != key:
        memo = (key, build())
        st.session_state[f"_memo.{name}"] = memo
    return memo[1]


def truth_figures(noise_std: float, n: int, y_values: tuple) -> dict[str, go.Figure]:
    """The Ground truth page's four figures."""

    def build():
        sampled_y = sample(n, noise_std, seed=0)[1].numpy()
        return {
            "true_decoder": truth.true_decoder_figure(),
            "true_marginal": truth.true_marginal_figure(noise_std, sampled_y),
            "true_posterior_heatmap": truth.true_posterior_heatmap(noise_std, y_values),
            "true_posterior_slices": truth.true_posterior_slices(noise_std, y_values),
        }

    return shared(("truth", noise_std, n, y_values), build)


def run_figure(result, name: str, y_values: tuple) -> go.Figure:
    """One figure of a finished run (a run.MODEL_FIGURES name, ANIMATION or SNAPSHOTS)."""

    def build():
        if name == ANIMATION:
            return run.decoder_animation_figure(result)
        if name == SNAPSHOTS:
            return run.decoder_snapshots_figure(result)
        return run.model_figure(name, result, y_values)

    return shared(("run", result.config.key(), result.status, result.steps_run, name, y_values), build)


def compared_run_figure(result, pinned, name: str) -> go.Figure:
    """A run.COMPARABLE_FIGURES figure of the current run (A) and the pinned run (B)."""

    def build():
        return run.compared_figure(name, result, pinned)

    def identity(r):
        return (r.config.key(), r.status, r.steps_run)

    return shared(("run A/B", identity(result), identity(pinned), name), build)


def comparison_figures(results: dict) -> dict[str, go.Figure]:
    """The Compare page's figures, by kind (built by the caller's cache)."""
    return {
        "decoders": compare.compare_decoders_figure(results),
        "generated_y": compare.compare_generated_figure(results),
        "posteriors": compare.compare_posteriors_figure(results),
        "training_curves": run.training_curves_figure(results),
    }


def seed_line_style(seed: int) -> str:
    """How the figures draw a seed's lines (style.seed_dash, by seed order), in words."""
    words = {
        "solid": "solid",
        "dot": "dotted",
        "dash": "dashed",
        "longdash": "long-dashed",
        "dashdot": "dash-dotted",
    }
    return words[style.seed_dash(seed)]


def view_figures(key: tuple, y: float, runs: list[live.Shown]) -> dict[str, go.Figure]:
    """The live view's p(y), decoder and posterior of finished runs (`key`: what the runs are)."""
    return shared(("view", key, y), lambda: live.live_figures(runs, y))


def prior_figure(key: tuple, runs: list[live.Shown]) -> go.Figure:
    return shared(("prior", key), lambda: run.prior_figure(runs))


def truth_heatmap(noise_std: float, y: float) -> go.Figure:
    return shared(("truth_heatmap", noise_std, y), lambda: live.truth_heatmap_figure(noise_std, y))


def live_elbo(statuses: list) -> go.Figure | None:
    """The training curves of the runs in progress (service Status objects; None before
    their first evaluation)."""
    curves = [s for s in statuses if len(s.train_elbo)]
    if not curves:
        return None
    rows = max(len(s.train_elbo) for s in curves)
    elbo = np.full((rows, len(curves)), np.nan)
    for column, status in enumerate(curves):
        elbo[: len(status.train_elbo), column] = status.train_elbo
    labels = [
        s.config.model_name if len(curves) == 1 else f"{s.config.model_name} s{s.config.seed}" for s in curves
    ]
    return live.live_elbo_figure(np.arange(1, rows + 1), elbo, labels, max(s.max_steps for s in curves))


# ----- charts --------------------------------------------------------------------------------


def show_figure(fig: go.Figure, name: str, paper: go.Figure | None = None) -> None:
    """The chart (its camera icon saves a 2× PNG named after it) and a server-side PNG button.

    `paper`: a figure to export instead (a static version of an animation: no dead buttons).
    """
    fig = styled(fig)
    printed = fig if paper is None else styled(paper)
    config = {"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}, "displaylogo": False}
    st.plotly_chart(fig, width="stretch", theme=None, config=config, key=f"chart.{name}")
    if chrome_path() is None:
        st.caption("Server-side PNG needs Chromium on the server; use the camera icon above.")
        return
    st.download_button(
        "Download PNG",
        data=lambda: _png_or_empty(printed),
        file_name=f"{name}.png",
        mime="image/png",
        key=f"png.{name}",
        on_click="ignore",
        icon=":material/download:",
    )


def progress_chart(fig: go.Figure) -> None:
    """The training curve under a progress bar (the Compare page's panel)."""
    st.plotly_chart(styled(fig), width="stretch", theme=None, key="live_chart")


def view_chart(fig: go.Figure, key: str) -> None:
    """One of the live view's four charts."""
    st.plotly_chart(styled(fig, in_view=True), width="stretch", theme=None, key=key, config=CHART_CONFIG)


def clickable_chart(fig: go.Figure, key: str, on_y: Callable[[float], None]) -> None:
    """A live-view chart whose click (a point) or drag (a box) chooses a y: on_y(y), before the rerun."""
    # A copy: figures are shared between sessions. A click anywhere picks the nearest point
    # in y (x-axis), not only a click on a line.
    fig = copy_figure(styled(fig, in_view=True)).update_layout(hovermode="x", hoverdistance=-1)
    st.plotly_chart(
        fig,
        width="stretch",
        theme=None,
        key=key,
        config=CHART_CONFIG,
        on_select=functools.partial(_chosen_y, key, on_y),
        selection_mode=("points", "box"),
    )


def _chosen_y(chart_key: str, on_y: Callable[[float], None]) -> None:
    event = st.session_state.get(chart_key)
    y = y_from_selection(event.get("selection") if event else None)
    if y is not None:
        on_y(y)


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


# ----- downloads -----------------------------------------------------------------------------


def _png_or_empty(fig: go.Figure) -> bytes:
    try:
        return figure_to_png(fig)
    except ExportError:
        return b""  # the download is empty; the caption under each chart names the camera icon


def settings_rows(config) -> pd.DataFrame:
    """A run's TrainConfig as rows of its metrics CSV, so a downloaded table says what it measured."""
    return pd.DataFrame(
        [(f"setting: {name}", value, "the run's configuration") for name, value in config.to_dict().items()],
        columns=["metric", "value", "meaning"],
    )


def download_all(figs: Callable[[], dict[str, go.Figure]], metrics: pd.DataFrame, stem: str) -> None:
    """The ZIP of every figure (`figs` builds them, only when the ZIP is downloaded) and the CSV."""
    left, right = st.columns(2)
    if chrome_path() is not None:
        left.download_button(
            "Download all figures (ZIP)",
            data=lambda: figures_to_zip({name: styled(fig) for name, fig in figs().items()}),
            file_name=f"{stem}-figures.zip",
            mime="application/zip",
            key=f"zip.{stem}",
            on_click="ignore",
            icon=":material/folder_zip:",
        )
    right.download_button(
        "Download metrics (CSV)",
        data=metrics.to_csv(index=False),
        file_name=f"{stem}-metrics.csv",
        mime="text/csv",
        key=f"csv.{stem}",
        on_click="ignore",
        icon=":material/table:",
    )
