"""The Train page's hands-on view: probe any y (type it, or click a chart), pin a run and
compare (A/B), the four figures of a finished or a training run, and the prior.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, service_client
from dashboard.url_state import Param, lecture_mode, widget_key
from vae_core.plots import live
from vae_core.training import TrainResult

PAGE = "train"
PINNED = "train.pinned"  # this session's pinned run (B): a TrainResult
PROBE = "probe"  # the page parameter holding the chosen y
PROBE_LIMITS = (-10.0, 10.0)
# The live figures' toggle (the ELBO curve is always drawn). A kept widget key (url_state's
# "w." prefix): a plain key was forgotten whenever the run's controls were not drawn (a stopped
# run, another page), and the toggle came back on (issue 22).
LIVE_ON = widget_key("live", "figures")


# ----- probing y ---------------------------------------------------------------------------


def probe_param() -> Param:
    return Param(0.1, low=PROBE_LIMITS[0], high=PROBE_LIMITS[1])


def probe_key() -> str:
    return widget_key(PAGE, PROBE)


def probe_y() -> float:
    return float(st.session_state.get(probe_key(), probe_param().default))


def set_probe(y: float) -> None:
    """A clicked (or dragged-over) y becomes the probe (a chart's callback, before the rerun)."""
    low, high = PROBE_LIMITS
    st.session_state[probe_key()] = round(min(max(y, low), high), 3)


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


# ----- pin and compare (A/B) ------------------------------------------------------------------


def pinned_result() -> TrainResult | None:
    return st.session_state.get(PINNED)


def pin(result: TrainResult | None) -> None:
    """Pin `result` as B (None: unpin)."""
    if result is None:
        st.session_state.pop(PINNED, None)
    else:
        st.session_state[PINNED] = result


def pin_controls(result: TrainResult) -> None:
    """Pin this run (B) to compare later runs (A) with it, in the same figures."""
    pinned = pinned_result()
    if pinned is not None and pinned.config == result.config:
        st.button(
            "Unpin",
            icon=":material/keep_off:",
            on_click=pin,
            args=(None,),
            key="pin.unpin",
            help="This run is pinned (B): change the settings and train or load another "
            "run, and it is drawn as A with B dashed beside it.",
        )
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button(
        "Pin this run",
        icon=":material/keep:",
        on_click=pin,
        args=(result,),
        key="pin.pin",
        help="Keep this run in the figures (dashed, as B) to compare the next one with it.",
    )
    if pinned is not None:
        row.button("Unpin", icon=":material/keep_off:", on_click=pin, args=(None,), key="pin.unpin")
        row.caption(f"Compared with the pinned run {live.run_label(pinned.config, True)}, dashed.")


def _shown(result: TrainResult) -> list[TrainResult]:
    """The current run (A) and, when one is pinned, the pinned run (B)."""
    pinned = pinned_result()
    return [result] + ([pinned] if pinned is not None and pinned.config != result.config else [])


def runs_of(result: TrainResult) -> list[live.Shown]:
    return [live.shown_result(r, pinned=index > 0) for index, r in enumerate(_shown(result))]


def runs_key(result: TrainResult) -> tuple:
    """What the drawn runs (A and the pinned B) are, for the figure cache shared by sessions."""
    return tuple((r.config.key(), r.status, r.steps_run, index > 0) for index, r in enumerate(_shown(result)))


# ----- the view: four figures, above the fold in lecture mode ------------------------------


def explore(result: TrainResult, prior_first: bool = False) -> list[live.Shown]:
    """Probe y, pin, the mode sentence and the four figures; returns the runs drawn (A, B).

    In lecture mode the figures come first (above the fold), the controls under them;
    `prior_first` (the guided tour's step about the prior, in lecture mode) puts the prior
    figure where the heat map goes (it sits far below otherwise).
    """
    runs = runs_of(result)
    key = runs_key(result)
    y = float(st.session_state[probe_key()])
    if lecture_mode():
        first = charts.prior_figure(key, runs) if prior_first else None
        show_modes(result, y)
        show_view(runs, y, charts.view_figures(key, y, runs), first=first)
    probe_column, pin_column = st.columns([1, 2], vertical_alignment="bottom")
    with probe_column:
        y = probe_input()
    with pin_column:
        pin_controls(result)
    if not lecture_mode():
        show_modes(result, y)
        show_view(runs, y, charts.view_figures(key, y, runs))
    return runs


def show_view(
    runs: list[live.Shown],
    y: float,
    figs: dict[str, go.Figure],
    first: go.Figure | None = None,
    key: str = "view",
) -> None:
    """Two rows of two: [training curve or truth heat map | p(y)], [decoder | posterior].

    `first` replaces the heat map: the live ELBO curve while a run trains, the prior figure
    in the tour's step about the prior.
    """
    top_left, top_right = st.columns(2)
    with top_left:
        if first is None:
            charts.clickable_chart(
                charts.truth_heatmap(runs[0].config.noise_std, y), f"{key}.heatmap", set_probe
            )
        else:
            charts.view_chart(first, f"{key}.first")
    with top_right:
        charts.clickable_chart(figs["marginal"], f"{key}.marginal", set_probe)
    bottom_left, bottom_right = st.columns(2)
    with bottom_left:
        charts.view_chart(figs["decoder"], f"{key}.decoder")
    with bottom_right:
        charts.view_chart(figs["posterior"], f"{key}.posterior")


def show_truth(noise_std: float) -> None:
    """Before a model exists: the exact posterior it will be compared with, where the view's
    heat map goes. (It also loads the browser's plotting code while the student reads, not
    when a whole class's results arrive at once.)"""
    left, right = st.columns(2, vertical_alignment="center")
    with left:
        charts.clickable_chart(
            charts.truth_heatmap(noise_std, float(st.session_state[probe_key()])), "view.heatmap", set_probe
        )
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
        if lecture_mode():  # one line, not a box: the figures must stay above the fold
            st.markdown(f":orange[:material/filter_1: **{modes.sentence()}**]")
        else:
            st.warning(modes.sentence(), icon=":material/filter_1:")
    else:
        st.caption(modes.sentence())


def prior_of(result: TrainResult) -> go.Figure:
    """The prior figure of the drawn runs (A and the pinned B)."""
    return charts.prior_figure(runs_key(result), runs_of(result))


def show_prior(result: TrainResult, name: str) -> None:
    """See the prior: its components (when learned) against the aggregate posterior."""
    charts.show_figure(prior_of(result), name)
    st.caption(
        "The KL term of the ELBO pulls the aggregate posterior q(z) = E_y q(z|y) (where "
        "the encoder sends the data, shaded) towards the prior p(z) (black); where they "
        "differ, the model pays for it. A learned mixture prior can move its components "
        "(dotted) to where the data go."
    )


# ----- while a run trains --------------------------------------------------------------------


def live_figures_wanted() -> bool:
    return st.session_state.get(LIVE_ON, True)


def resting(status) -> bool:
    """While a class trains, redrawing everyone's distributions would take the cores (the
    server's and the browsers') that train their models: the view rests, except for a
    paused run, which costs one drawing."""
    return live_figures_wanted() and status.state != "paused" and service_client.server_busy()


def training_view(status, elbo: go.Figure | None, rest: bool) -> None:
    """The view while a run trains, from the member's current weights (in `status` when the
    live figures are wanted and not `rest`ing), redrawn by the training panel's fragment."""
    if rest:
        st.caption(
            f"The live figures and the training curve rest while the class server is busy "
            f"({service_client.models_training()} models training), so that every model trains fast. They "
            "return when it is quieter; Pause shows them for your run."
        )
    if status.weights is None or not live_figures_wanted() or rest:
        if elbo is not None:
            charts.view_chart(elbo, "live.first")
        return
    y = probe_y()
    pinned = pinned_result()
    ticket = service_client.ticket_of(PAGE, status.config)
    key = (ticket, status.step, status.version, y, None if pinned is None else pinned.config.key())
    runs, figs = charts.session_memo("live_view", key, lambda: _live_runs_and_figures(status, y))
    show_view(runs, y, figs, first=elbo, key="live")


def _live_runs_and_figures(status, y: float):
    model = live.model_from_state(status.config, status.weights)
    runs = [live.Shown(model, status.config, live.run_label(status.config))]
    pinned = pinned_result()
    if pinned is not None and pinned.config != status.config:
        runs.append(live.shown_result(pinned, pinned=True))
    return runs, live.live_figures(runs, y)
