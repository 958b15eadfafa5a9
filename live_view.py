"""The Train page's hands-on parts: the live view (probe any y by clicking), see the prior,
pin a run and compare (A/B), and the guided tour of lecture mode.

Streamlit only: widgets, session state and layout. The figures are vae_core.plots.live (and run), the
tour's content vae_core.tour.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

import ui
from vae_core import tour
from vae_core.config import TrainConfig
from vae_core.plots import live, run
from vae_core.training import TrainResult

PAGE = "train"
PINNED = "train.pinned"  # this session's pinned run (B): a TrainResult
TOUR_STEP = "train.tour_step"  # index of the tour step on screen, absent before the tour starts
PROBE = "probe"  # the page parameter holding the chosen y
PROBE_LIMITS = (-10.0, 10.0)
FIGURE_TITLES = {
    "elbo": "the training curve",
    "decoder": "the decoder",
    "marginal": "p_θ(y) against p(y)",
    "posterior": "the posterior at the chosen y",
    "prior": "the prior against the aggregate posterior",
    "truth_heatmap": "the ground-truth heat map",
}
CHART_CONFIG = {"displaylogo": False}
LECTURE_VIEW_HEIGHT = 300  # px: two rows of the view fit under the tour on a 1920×1080 screen


def probe_param() -> ui.Param:
    return ui.Param(0.1, low=PROBE_LIMITS[0], high=PROBE_LIMITS[1])


def probe_key() -> str:
    return ui.widget_key(PAGE, PROBE)


# ----- probing y ---------------------------------------------------------------------------


def _probe_from_chart(chart_key: str) -> None:
    """on_select callback: the clicked (or dragged-over) y becomes the probe, before the rerun."""
    event = st.session_state.get(chart_key)
    y = y_from_selection(event.get("selection") if event else None)
    if y is not None:
        low, high = PROBE_LIMITS
        st.session_state[probe_key()] = round(min(max(y, low), high), 3)


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


def clickable_chart(fig: go.Figure, key: str) -> None:
    """A chart whose click (a point) or drag (a box) chooses y."""
    # A copy: figures are shared between sessions. A click anywhere picks the nearest point
    # in y (x-axis), not only a click on a line.
    fig = go.Figure(view_styled(fig)).update_layout(hovermode="x", hoverdistance=-1)
    st.plotly_chart(
        fig,
        width="stretch",
        theme=None,
        key=key,
        config=CHART_CONFIG,
        on_select=functools.partial(_probe_from_chart, key),
        selection_mode=("points", "box"),
    )


def chart(fig: go.Figure, key: str) -> None:
    st.plotly_chart(view_styled(fig), width="stretch", theme=None, key=key, config=CHART_CONFIG)


def view_styled(fig: go.Figure) -> go.Figure:
    """Lecture mode: larger text, but the figures keep a height that fits two rows on a screen."""
    if not ui.lecture_mode():
        return fig
    fig = go.Figure(fig)
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


def probe_input() -> float:
    st.number_input(
        "Probe y: type it, or click p(y) or the heat map",
        *PROBE_LIMITS,
        step=0.01,
        format="%.3f",
        key=probe_key(),
        help="The posterior figure shows q(z|y), the model's own p_θ(z|y) and the "
        "truth at this y. The list of y values under Controls stays for the "
        "results below.",
    )
    return float(st.session_state[probe_key()])


# ----- the view: four figures, above the fold in lecture mode ------------------------------


def runs_of(result: TrainResult) -> list[live.Shown]:
    """The current run (A) and, when one is pinned, the pinned run (B)."""
    runs = [live.shown_result(result)]
    pinned = pinned_result()
    if pinned is not None and pinned.config != result.config:
        runs.append(live.shown_result(pinned, pinned=True))
    return runs


def explore(result: TrainResult) -> list[live.Shown]:
    """Probe y, pin, the mode sentence and the four figures; returns the runs drawn (A, B).

    In lecture mode the figures come first (above the fold), the controls under them.
    """
    runs = runs_of(result)
    key = runs_key(result)
    y = float(st.session_state[probe_key()])
    # A tour step about the prior shows its figure in the view (it sits far below otherwise).
    first = prior_figure(key, runs) if ui.lecture_mode() and tour_looks_at("prior") else None
    if ui.lecture_mode():
        show_modes(result, y)
        show_view(runs, y, first=first, figs=view_figures(key, y, runs))
    probe_column, pin_column = st.columns([1, 2], vertical_alignment="bottom")
    with probe_column:
        y = probe_input()
    with pin_column:
        pin_controls(result)
    if not ui.lecture_mode():
        show_modes(result, y)
        show_view(runs, y, figs=view_figures(key, y, runs))
    return runs


def runs_key(result: TrainResult) -> tuple:
    """What the drawn runs (A and the pinned B) are, for the figure caches shared by sessions."""
    pinned = pinned_result()
    shown = [result] + ([pinned] if pinned is not None and pinned.config != result.config else [])
    return tuple((r.config.key(), r.status, r.steps_run, index > 0) for index, r in enumerate(shown))


# A class that trained one config, or opened one preset, draws its figures once, not once per
# student (the figures are never mutated: lecture mode styles a copy).
@st.cache_resource(show_spinner=False, max_entries=256)
def view_figures(key: tuple, y: float, _runs: list[live.Shown]) -> dict[str, go.Figure]:
    return live.live_figures(_runs, y)


@st.cache_resource(show_spinner=False, max_entries=128)
def prior_figure(key: tuple, _runs: list[live.Shown]) -> go.Figure:
    return run.prior_figure(_runs)


def show_view(
    runs: list[live.Shown],
    y: float,
    first: go.Figure | None = None,
    key: str = "view",
    figs: dict | None = None,
) -> None:
    """Two rows of two: [training curve or truth heat map | p(y)], [decoder | posterior].

    `first` replaces the heat map: the live ELBO curve while a run trains, the prior figure
    in the tour's step about the prior.
    """
    figs = figs or live.live_figures(runs, y)
    top_left, top_right = st.columns(2)
    with top_left:
        if first is None:
            clickable_chart(truth_heatmap(runs[0].config.noise_std, y), f"{key}.heatmap")
        else:
            chart(first, f"{key}.first")
    with top_right:
        clickable_chart(figs["marginal"], f"{key}.marginal")
    bottom_left, bottom_right = st.columns(2)
    with bottom_left:
        chart(figs["decoder"], f"{key}.decoder")
    with bottom_right:
        chart(figs["posterior"], f"{key}.posterior")


@st.cache_resource(show_spinner=False, max_entries=64)
def truth_heatmap(noise_std: float, y: float) -> go.Figure:
    return live.truth_heatmap_figure(noise_std, y)


def show_truth(noise_std: float) -> None:
    """Before a model exists: the exact posterior it will be compared with, where the view's
    heat map goes. (It also loads the browser's plotting code while the student reads, not
    when a whole class's results arrive at once.)"""
    left, right = st.columns(2, vertical_alignment="center")
    with left:
        clickable_chart(truth_heatmap(noise_std, float(st.session_state[probe_key()])), "view.heatmap")
    right.markdown(
        f"**The truth first.** At σ = {noise_std:g} every vertical slice of this heat map is the "
        "exact posterior p(z|y) of the data: for y between 0 and 0.25 four true latents z could "
        "have produced it. Click a y to choose where to probe. Once a model is trained, its "
        "p_θ(y), its decoder and its posterior q(z|y) at that y appear beside this."
    )


def show_modes(result: TrainResult, y: float) -> None:
    """Say whether q(z|y) really uses several peaks (the point of a MoG posterior)."""
    modes = live.posterior_modes(result.model, result.config, y)
    if modes.components > 1 and modes.q_modes <= 1:
        if ui.lecture_mode():  # one line, not a box: the figures must stay above the fold
            st.markdown(f":orange[:material/filter_1: **{modes.sentence()}**]")
        else:
            st.warning(modes.sentence(), icon=":material/filter_1:")
    else:
        st.caption(modes.sentence())


def show_prior(runs: list[live.Shown], name: str, key: tuple) -> None:
    """See the prior: its components (when learned) against the aggregate posterior (`key`:
    runs_key of the runs, for the figure cache shared by sessions)."""
    ui.show_figure(prior_figure(key, runs), name)
    st.caption(
        "The KL term of the ELBO pulls the aggregate posterior q(z) = E_y q(z|y) (where "
        "the encoder sends the data, shaded) towards the prior p(z) (black); where they "
        "differ, the model pays for it. A learned mixture prior can move its components "
        "(dotted) to where the data go."
    )


# ----- while training: the live view, Pause, Step, Resume -----------------------------------

STEP_SIZE = "train.step_size"  # steps one press of Step trains
LIVE_ON = "train.live_on"  # the live figures' toggle (the ELBO curve is always drawn)
LIVE_CACHE = "train.live_figures"  # (request, step, y, pinned) → figures, so an idle redraw is cheap


def _service_call(method: str, config: TrainConfig, *args) -> None:
    ticket = ui.ticket_of(PAGE, config)
    if ticket is not None:
        try:
            getattr(ui.training_service(), method)(ticket, *args)
        except KeyError:  # the server forgot the ticket (a restart): the page offers Train again
            pass


def run_controls(status) -> None:
    """Pause / Step / Resume for this session's run (Stop is the training panel's)."""
    row = st.container(horizontal=True, vertical_alignment="bottom")
    paused = status.state == "paused"
    if status.state in ("training", "starting", "queued"):
        row.button(
            "Pause",
            icon=":material/pause:",
            on_click=_service_call,
            args=("pause", status.config),
            key="live.pause",
            help="Keep the model exactly where it is (it leaves the batch: nobody waits).",
        )
    if paused:
        row.button(
            "Resume",
            icon=":material/play_arrow:",
            on_click=_service_call,
            args=("resume", status.config),
            key="live.resume",
            type="primary",
            help="Continue from this very state, never from scratch.",
        )
    st.session_state.setdefault(STEP_SIZE, 10)
    row.number_input("steps per Step", 1, 1000, key=STEP_SIZE, width=140)
    row.button(
        "Step",
        icon=":material/skip_next:",
        on_click=_step,
        args=(status.config,),
        key="live.step",
        help="Train this many more steps, then pause again.",
    )
    st.session_state.setdefault(LIVE_ON, True)
    row.toggle(
        "Live figures",
        key=LIVE_ON,
        help="Redraw the decoder, p(y) and the posterior as the model learns (off: the ELBO curve only).",
    )
    where = f"step {status.step} of {status.max_steps}"
    row.markdown(f"**{'Paused at ' if paused else ''}{where}**")


def _step(config: TrainConfig) -> None:
    _service_call("step", config, int(st.session_state.get(STEP_SIZE, 10)))


def resume_button(config: TrainConfig) -> None:
    """Continue a run the user stopped (from where it stopped)."""
    st.button(
        "Resume",
        icon=":material/play_arrow:",
        on_click=_service_call,
        args=("resume", config),
        key="live.resume_stopped",
        help="Continue training from where it stopped, never from scratch.",
    )


def training_view(statuses, elbo: go.Figure | None) -> None:
    """The live view while a run trains: drawn in the training panel's fragment, several times
    a second, from the member's current weights (the service sends them about 5×/s)."""
    status = statuses[0]
    ticket = ui.ticket_of(PAGE, status.config)
    wanted = st.session_state.get(LIVE_ON, True)
    # While a class trains, redrawing everyone's distributions would take the cores (the
    # server's and the browsers') that train their models: the view rests, except for a
    # paused run, which costs one drawing.
    resting = wanted and status.state != "paused" and ui.server_busy()
    if ticket is not None and wanted and not resting:
        try:  # live=True: the service now sends this run's weights about 5×/s
            status = ui.training_service().status(ticket, live=True)
        except KeyError:
            pass
    run_controls(status)
    if resting:
        st.caption(
            f"The live figures and the training curve rest while the class server is busy "
            f"({ui.models_training()} models training), so that every model trains fast. They "
            "return when it is quieter; Pause shows them for your run."
        )
    if status.weights is None or not wanted or resting:
        if elbo is not None:
            chart(elbo, "live.first")
        return
    y = float(st.session_state.get(probe_key(), probe_param().default))
    pinned = pinned_result()
    cache_key = (ticket, status.step, status.version, y, None if pinned is None else pinned.config.key())
    cached = st.session_state.get(LIVE_CACHE)
    if cached is None or cached[0] != cache_key:
        model = live.model_from_state(status.config, status.weights)
        runs = [live.Shown(model, status.config, live.run_label(status.config))]
        if pinned is not None and pinned.config != status.config:
            runs.append(live.shown_result(pinned, pinned=True))
        cached = (cache_key, runs, live.live_figures(runs, y))
        st.session_state[LIVE_CACHE] = cached
    _, runs, figs = cached
    show_view(runs, y, first=elbo, key="live", figs=figs)


# ----- pin and compare (A/B) ------------------------------------------------------------------


def pinned_result() -> TrainResult | None:
    return st.session_state.get(PINNED)


def _pin(result: TrainResult) -> None:
    st.session_state[PINNED] = result


def _unpin() -> None:
    st.session_state.pop(PINNED, None)


def pin_controls(result: TrainResult) -> None:
    """Pin this run (B) to compare later runs (A) with it, in the same figures."""
    pinned = pinned_result()
    if pinned is not None and pinned.config == result.config:
        st.button(
            "Unpin",
            icon=":material/keep_off:",
            on_click=_unpin,
            key="pin.unpin",
            help="This run is pinned (B): change the settings and train or load another "
            "run, and it is drawn as A with B dashed beside it.",
        )
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(
        "Pin this run",
        icon=":material/keep:",
        on_click=_pin,
        args=(result,),
        key="pin.pin",
        help="Keep this run in the figures (dashed, as B) to compare the next one with it.",
    )
    if pinned is not None:
        row.button("Unpin", icon=":material/keep_off:", on_click=_unpin, key="pin.unpin")
        row.caption(f"Compared with the pinned run {live.run_label(pinned.config, True)}, dashed.")


# ----- the guided tour ----------------------------------------------------------------------


def _go_to_step(index: int, apply_config: Callable[[TrainConfig], None], lookup) -> None:
    """Load a step's settings, its y and its pinned run (callback: runs before the rerun)."""
    step = tour.step(index)
    st.session_state[TOUR_STEP] = index
    apply_config(step.config)
    st.session_state[probe_key()] = step.probe_y
    pinned = lookup(step.pinned) if step.pinned is not None else None
    if pinned is not None:
        st.session_state[PINNED] = pinned
    else:
        st.session_state.pop(PINNED, None)


def touring() -> bool:
    return TOUR_STEP in st.session_state


def tour_looks_at(figure: str) -> bool:
    """Whether the tour's current step points at `figure` first (a FIGURE_TITLES name)."""
    index = st.session_state.get(TOUR_STEP)
    return index is not None and tour.step(index).look_at[0] == figure


def _end_tour() -> None:
    st.session_state.pop(TOUR_STEP, None)


def show_tour(apply_config: Callable[[TrainConfig], None], lookup) -> None:
    """The guided tour, in the sidebar (the main area keeps the figures above the fold)."""
    index = st.session_state.get(TOUR_STEP)
    args = (apply_config, lookup)
    box = st.sidebar.container(border=True)
    if index is None:
        box.markdown(
            f"**Guided tour**: the paper's story in {len(tour.TOUR)} steps, from the "
            "truth to non-identifiability. Each step loads its settings."
        )
        box.button(
            "Start the tour →",
            on_click=_go_to_step,
            args=(0, *args),
            key="tour.start",
            type="primary",
            width="stretch",
        )
        return
    step = tour.step(index)
    look = ", ".join(FIGURE_TITLES[name] for name in step.look_at)
    # Next → first, always at the same place: a lecturer clicks it again and again, and under a
    # long step text the narrow sidebar would push it below a 1080-px screen.
    box.button(
        "Next →",
        on_click=_go_to_step,
        args=(index + 1, *args),
        key="tour.next",
        disabled=index >= len(tour.TOUR) - 1,
        type="primary",
        width="stretch",
    )
    box.markdown(
        f"**{step.title}** ({index + 1}/{len(tour.TOUR)})  \n{step.text}  \n"
        f":material/visibility: **Look at** {look}."
    )
    box.button(
        "← Back",
        on_click=_go_to_step,
        args=(index - 1, *args),
        key="tour.back",
        disabled=index == 0,
        width="stretch",
    )
    box.button("End the tour", icon=":material/close:", on_click=_end_tour, key="tour.end", type="tertiary")
