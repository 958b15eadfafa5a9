"""Stop, Pause, Step, Resume and the live figures' toggle of a run in progress.

They are drawn by the page's full run, *outside* the progress fragment that redraws several
times a second: a button that is redrawn can be replaced under the pointer, and a click then
misses it. Their state (Pause or Resume) changes with the run's, so the fragment asks for a full
run when the run is paused or resumed (`outdated`), which redraws them once.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import service_client
from dashboard.explore import LIVE_ON
from dashboard.url_state import widget_key
from vae_core.config import TrainConfig

# Steps one press of Step trains: a kept widget key like LIVE_ON's, so it survives the
# controls not being drawn (Streamlit drops the state of a widget that a run does not draw).
STEP_SIZE = widget_key("live", "step_size")
STEP_SIZE_DEFAULT = 10
RUNNING = ("training", "starting", "queued")  # the states in which Pause is offered


def _drawn_paused_key(slot: str) -> str:
    return f"_controls_paused.{slot}"


def _stop(slot: str, configs: list[TrainConfig]) -> None:
    for config in configs:
        service_client.send(slot, config, "stop")


def stop_button(slot: str, configs: list[TrainConfig]) -> None:
    st.button(
        "Stop",
        icon=":material/stop:",
        on_click=_stop,
        args=(slot, configs),
        key=f"stop.{slot}",
        help="Keeps what was trained so far (for you only).",
    )


def run_controls(slot: str, status) -> DeltaGenerator:
    """Pause (or Resume), the Step size and Step, and the live figures' toggle, in one row;
    returns the row's last place, where the fragment writes the step counter."""
    row = st.container(horizontal=True, vertical_alignment="bottom")
    paused = status.state == "paused"
    st.session_state[_drawn_paused_key(slot)] = paused
    if status.state in RUNNING:
        row.button(
            "Pause",
            icon=":material/pause:",
            on_click=service_client.send,
            args=(slot, status.config, "pause"),
            key="live.pause",
            help="Keep the model exactly where it is (it leaves the batch: nobody waits).",
        )
    if paused:
        row.button(
            "Resume",
            icon=":material/play_arrow:",
            on_click=service_client.send,
            args=(slot, status.config, "resume"),
            key="live.resume",
            type="primary",
            help="Continue from this very state, never from scratch.",
        )
    st.session_state.setdefault(STEP_SIZE, STEP_SIZE_DEFAULT)
    row.number_input("steps per Step", 1, 1000, key=STEP_SIZE, width=140)
    row.button(
        "Step",
        icon=":material/skip_next:",
        on_click=_step,
        args=(slot, status.config),
        key="live.step",
        help="Train this many more steps, then pause again.",
    )
    st.session_state.setdefault(LIVE_ON, True)
    row.toggle(
        "Live figures",
        key=LIVE_ON,
        help="Redraw the decoder, p(y) and the posterior as the model learns (off: the ELBO curve only).",
    )
    return row.empty()


def _step(slot: str, config: TrainConfig) -> None:
    service_client.send(slot, config, "step", int(st.session_state.get(STEP_SIZE, STEP_SIZE_DEFAULT)))


def outdated(slot: str, status) -> bool:
    """Whether the run was paused or resumed since the controls were drawn (Pause ↔ Resume)."""
    return st.session_state.get(_drawn_paused_key(slot)) != (status.state == "paused")


def show_counter(place: DeltaGenerator, status) -> None:
    """The step counter at the end of the controls' row (written by the progress fragment)."""
    paused = status.state == "paused"
    place.markdown(f"**{'Paused at ' if paused else ''}step {status.step} of {status.max_steps}**")


def resume_button(slot: str, config: TrainConfig) -> None:
    """Continue a run the user stopped (from where it stopped)."""
    st.button(
        "Resume",
        icon=":material/play_arrow:",
        on_click=service_client.send,
        args=(slot, config, "resume"),
        key="live.resume_stopped",
        help="Continue training from where it stopped, never from scratch.",
    )
