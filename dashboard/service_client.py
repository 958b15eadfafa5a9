"""This server's training service, and this browser session's requests to it.

A page's requests live in a *slot* (the page's name): one ticket per config, kept in session
state across reruns, so a rerun finds the run it started.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from vae_core.cache import default_cache_dir
from vae_core.config import TrainConfig
from vae_core.serving import ServerBusy, Status, TrainingService

SESSION_ID = "_session_id"
# Sessions waiting for training from which the server counts as busy: progress redraws less
# often and live figures rest (counted in sessions: 20 students waiting for one shared model
# cost 20 redraws).
BUSY_SESSIONS = 4
FINISHED = ("done", "failed")


def cache_dir() -> Path:
    """The results cache shared by every session: the same folder the CLI uses."""
    return default_cache_dir()


@st.cache_resource(show_spinner=False, on_release=lambda service: service.close())
def training_service() -> TrainingService:
    """The server's training service (worker processes start now, so a first Train is fast)."""
    return TrainingService(cache_dir(), session_alive=_session_connected)


def _session_connected(owner: str) -> bool:
    """Whether the browser session that owns a request (owner = "<session id>/<slot>...") is
    still connected: a closed tab releases its request (unless another session shares it)."""
    if not Runtime.exists():
        return True
    return Runtime.instance().is_active_session(owner.split("/", 1)[0])


def session_id() -> str:
    """Streamlit's id of this browser session (the runtime knows whether it is connected)."""
    if SESSION_ID not in st.session_state:
        context = get_script_run_ctx()
        st.session_state[SESSION_ID] = context.session_id if context else uuid.uuid4().hex
    return st.session_state[SESSION_ID]


def _tickets(slot: str) -> dict[str, str]:
    """config key → ticket of this session's requests in a slot (kept across reruns)."""
    return st.session_state.setdefault(f"_tickets.{slot}", {})


def _busy_key(slot: str) -> str:
    return f"_busy.{slot}"


def submit(slot: str, configs: list[TrainConfig]) -> None:
    """Ask for `configs` (a Train press); a full server leaves its message for busy_message."""
    service = training_service()
    tickets = _tickets(slot)
    st.session_state.pop(_busy_key(slot), None)
    try:
        for index, config in enumerate(configs):
            # One pending request per session and panel slot (a new Train replaces the old).
            owner = f"{session_id()}/{slot}" + (f"/{index}" if len(configs) > 1 else "")
            tickets[config.key()] = service.submit(config, owner)
    except ServerBusy as busy:
        st.session_state[_busy_key(slot)] = str(busy)


def reattach(slot: str, configs: list[TrainConfig]) -> bool:
    """Join the server's run of `configs` when every one is queued or training and this session
    has no run of its own in the slot; returns whether it joined.

    A reload is a new browser session with empty session state: its tickets are gone while its
    run trains on, and the page said "Not trained yet" until a second Train press. The run is
    found by its config instead. Never while this session has an active request in the slot:
    joining releases that one (as a Train press does), and moving a slider must not stop a run.
    """
    if not configs or _slot_training(slot):
        return False
    if not all(training_service().training(config) for config in configs):
        return False
    submit(slot, configs)
    return True


def _slot_training(slot: str) -> bool:
    """Whether any of this session's requests in a slot, whatever its config, is active."""
    service = training_service()
    for ticket in _tickets(slot).values():
        try:
            status = service.status(ticket)
        except KeyError:  # a restarted server forgot it
            continue
        if is_active(status) and status.state != "released":
            return True
    return False


def busy_message(slot: str) -> str | None:
    """Why the last Train press in this slot was refused (the server was full), if it was."""
    return st.session_state.get(_busy_key(slot))


def ticket_of(slot: str, config: TrainConfig) -> str | None:
    """This session's ticket for `config` in a slot."""
    return _tickets(slot).get(config.key())


def statuses(slot: str, configs: list[TrainConfig]) -> list[Status | None]:
    """Each config's request status now, or None where this session has none (or it was released)."""
    service, tickets = training_service(), _tickets(slot)
    found = []
    for config in configs:
        ticket = tickets.get(config.key())
        try:
            status = service.status(ticket) if ticket else None
        except KeyError:  # a restarted server forgot it
            status = None
        found.append(None if status is None or status.state == "released" else status)
    return found


def live_status(slot: str, status: Status) -> Status:
    """The same request's status with the member's current weights: from now on the service
    sends them about 5×/s (for live figures of the model as it learns)."""
    ticket = ticket_of(slot, status.config)
    if ticket is None:
        return status
    try:
        return training_service().status(ticket, live=True)
    except KeyError:
        return status


def send(slot: str, config: TrainConfig, command: str, *args) -> None:
    """stop / pause / step / resume this session's request for `config` (a button's callback)."""
    ticket = ticket_of(slot, config)
    if ticket is not None:
        try:
            getattr(training_service(), command)(ticket, *args)
        except KeyError:  # the server forgot the ticket (a restart): the page offers Train again
            pass


def is_active(status: Status | None) -> bool:
    """Queued, starting, training or paused: not finished, and not absent."""
    return status is not None and status.state not in FINISHED


def training_active(slot: str, configs: list[TrainConfig]) -> bool:
    """Whether any of this session's requests for `configs` is queued, training or paused."""
    return any(is_active(s) for s in statuses(slot, configs))


def models_training() -> int:
    """Requests queued or training on this server, every session's."""
    return len(training_service().jobs)


def server_busy() -> bool:
    """A class is training: progress redraws less often and live figures rest."""
    return training_service().sessions_waiting() >= BUSY_SESSIONS
