"""Helpers shared by the pages: the training service and its panel, URL state,
figure display with PNG export, and lecture mode. The science lives in vae_core."""

from __future__ import annotations

import inspect
import math
import runpy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from vae_core.cache import default_cache_dir
from vae_core.config import TrainConfig
from vae_core.export import ExportError, chrome_path, figure_to_png, figures_to_zip
from vae_core.plots import live
from vae_core.serving import ServerBusy, Status, TrainingService
from vae_core.training import TrainResult

REPO = Path(__file__).resolve().parent
STATE_PREFIX = "w."  # widget keys that must survive page switches (see keep_widget_state)


APP_FILE = REPO / "app.py"


def run_through_app() -> None:
    """Make a page run inside app.py even when Streamlit started it alone.

    Until app.py has run once, Streamlit treats a `pages/` folder as a legacy multipage app
    (streamlit/streamlit#9624): a fresh server's first request for /compare runs that page file
    alone, without the navigation, the wide layout or lecture mode. Then run app.py, which
    calls st.navigation and runs this very page inside it, and stop the lone run.
    """
    if any(Path(frame.filename) == APP_FILE for frame in inspect.stack(context=0)):
        return
    runpy.run_path(str(APP_FILE), run_name="__main__")
    st.stop()


def cache_dir() -> Path:
    """The results cache shared by every session: the same folder the CLI uses."""
    return default_cache_dir()


# ----- training: one service per server process, one panel for both pages -----------------

# s between redraws of a training panel (a fragment, not the whole page): quick while the server
# is quiet (a lone student sees the model as soon as it is ready), slower when a class trains
# (each redraw builds a live chart, ~10 ms of the server's time per session).
PROGRESS_EVERY = 0.25
PROGRESS_EVERY_BUSY = 2.0
BUSY_SESSIONS = 4  # sessions waiting for training from which the server counts as busy
SESSION_ID = "_session_id"


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


result_store = training_service  # its former name, still used by tests and notebooks


def session_id() -> str:
    """Streamlit's id of this browser session (the runtime knows whether it is connected)."""
    if SESSION_ID not in st.session_state:
        context = get_script_run_ctx()
        st.session_state[SESSION_ID] = context.session_id if context else uuid.uuid4().hex
    return st.session_state[SESSION_ID]


def _tickets(slot: str) -> dict[str, str]:
    """config key → ticket of this session's requests in a panel (kept across reruns)."""
    return st.session_state.setdefault(f"_tickets.{slot}", {})


def _submit(slot: str, configs: list[TrainConfig]) -> None:
    service = training_service()
    tickets = _tickets(slot)
    st.session_state.pop(f"_busy.{slot}", None)
    try:
        for index, config in enumerate(configs):
            # One pending request per session and panel slot (a new Train replaces the old).
            owner = f"{session_id()}/{slot}" + (f"/{index}" if len(configs) > 1 else "")
            tickets[config.key()] = service.submit(config, owner)
    except ServerBusy as busy:
        st.session_state[f"_busy.{slot}"] = str(busy)


def ticket_of(slot: str, config: TrainConfig) -> str | None:
    """This session's ticket for `config` in a panel (for pause / step / resume / live status)."""
    return _tickets(slot).get(config.key())


def _statuses(slot: str, configs: list[TrainConfig]) -> list[Status | None]:
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


def _stop(slot: str, configs: list[TrainConfig]) -> None:
    service, tickets = training_service(), _tickets(slot)
    for config in configs:
        if config.key() in tickets:
            service.stop(tickets[config.key()])


RESTING = (
    "The training curve rests while the class server is busy, so that every model trains fast; "
    "it returns when it is quieter."
)


def models_training() -> int:
    """Requests queued or training on this server, every session's."""
    return len(training_service().jobs)


def server_busy() -> bool:
    """A class is training: progress redraws less often and live figures rest. Counted in
    sessions, not models: 20 students waiting for one shared model cost 20 redraws."""
    return training_service().sessions_waiting() >= BUSY_SESSIONS


def training_active(slot: str, configs: list[TrainConfig]) -> bool:
    """Whether any of this session's requests for `configs` is queued, training or paused."""
    return any(s is not None and s.state not in ("done", "failed") for s in _statuses(slot, configs))


def training_panel(
    slot: str, configs: list[TrainConfig], label: str = "Train", help: str | None = None, live=None
) -> list[TrainResult | None]:
    """Train button, queue/progress display with Stop, and this session's results for `configs`.

    Returns each config's result this session obtained (done, failed-free; a stopped run's
    partial model included), or None where there is none yet. While anything trains the
    progress redraws in a fragment every PROGRESS_EVERY s, and the whole page reruns once all
    have finished, so a waiting session costs the server one small redraw, not a loop.

    live(statuses, elbo_figure): draws the live view in the fragment instead of the ELBO chart
    alone (the Train page's decoder, p(y) and posterior as the model learns).
    """
    statuses = _statuses(slot, configs)
    results = [s.result if s is not None and s.state == "done" else None for s in statuses]
    if any(s is not None and s.state not in ("done", "failed") for s in statuses):
        (_progress_busy if server_busy() else _progress_quick)(slot, configs, live)
        return results
    for status in statuses:
        if status is not None and status.state == "failed":
            st.error(status.message, icon=":material/error:")
    busy = st.session_state.get(f"_busy.{slot}")
    if busy:
        st.warning(busy, icon=":material/hourglass_top:")
    st.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        on_click=_submit,
        args=(slot, configs),
        key=f"train.{slot}",
        help=help,
    )
    return results


@st.fragment(run_every=PROGRESS_EVERY)
def _progress_quick(slot: str, configs: list[TrainConfig], live=None) -> None:
    _progress(slot, configs, live)


@st.fragment(run_every=PROGRESS_EVERY_BUSY)
def _progress_busy(slot: str, configs: list[TrainConfig], live=None) -> None:
    _progress(slot, configs, live)


def _progress(slot: str, configs: list[TrainConfig], live=None) -> None:
    """Stop, a progress bar with the service's message (queue, batch, time left), live ELBO."""
    statuses = [s for s in _statuses(slot, configs) if s is not None]
    if not any(s.state not in ("done", "failed") for s in statuses):
        st.rerun()  # everything finished: the whole page draws the results
    st.button(
        "Stop",
        icon=":material/stop:",
        on_click=_stop,
        args=(slot, configs),
        key=f"stop.{slot}",
        help="Keeps what was trained so far (for you only).",
    )
    active = [s for s in statuses if s.state not in ("done", "failed")]
    done = sum(min(s.step, s.max_steps) for s in statuses)
    total = sum(s.max_steps for s in statuses) or 1
    lead = active[0]
    text = (
        lead.message
        if len(statuses) == 1
        else (f"{len(statuses) - len(active)} of {len(statuses)} models done. {lead.message}")
    )
    st.progress(min(done / total, 1.0), text=text)
    # While a class trains, charts redrawn in every student's page would take the cores (the
    # server's and the browsers') that train their models: the progress bar alone then.
    elbo = None if server_busy() else _live_elbo(statuses)
    if live is not None:
        live(statuses, elbo)
    elif elbo is not None:
        st.plotly_chart(styled(elbo), width="stretch", theme=None, key="live_chart")
    else:
        st.caption(RESTING)


def _live_elbo(statuses: list[Status]) -> go.Figure | None:
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


# ----- URL and widget state ------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A page setting kept in the URL: a default, and either choices or a [low, high] range."""

    default: object
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None

    def parse(self, text: str):
        """The value of a URL string, or raise ValueError with a message for the user."""
        kind = type(self.default)
        if kind is bool:
            if text.lower() not in ("0", "1", "true", "false"):
                raise ValueError("expected 0 or 1")
            value = text.lower() in ("1", "true")
        elif kind is int:
            value = int(text)
        elif kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError("not a finite number")
        else:
            value = text
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"expected one of {', '.join(map(str, self.choices))}")
        if self.low is not None and not self.low <= value <= self.high:
            raise ValueError(f"expected a value between {self.low} and {self.high}")
        return value


def load_page_state(page: str, params: dict[str, Param]) -> list[str]:
    """Put each setting into st.session_state["w.<page>.<name>"]; return URL warnings.

    The URL is read once per session and page (a shared link restores the view); after that
    the session's own widget values win, so nothing the user did is lost on a rerun.
    """
    warnings = []
    loaded_flag = f"_url_loaded.{page}"
    from_url = not st.session_state.get(loaded_flag, False)
    st.session_state[loaded_flag] = True
    for name, param in params.items():
        key = f"{STATE_PREFIX}{page}.{name}"
        if from_url and name in st.query_params:
            raw = st.query_params[name]
            try:
                st.session_state[key] = param.parse(raw)
                continue
            except ValueError as error:
                warnings.append(
                    f"URL parameter `{name}={raw}` ignored ({error}); using the default {param.default}."
                )
        if key not in st.session_state:
            st.session_state[key] = param.default
    return warnings


def page_value(page: str, name: str):
    return st.session_state[f"{STATE_PREFIX}{page}.{name}"]


def widget_key(page: str, name: str) -> str:
    return f"{STATE_PREFIX}{page}.{name}"


def save_page_state(page: str, params: dict[str, Param]) -> None:
    """Mirror the page's settings into the URL, so copying it shares this exact view."""
    values = {}
    for name, param in params.items():
        value = page_value(page, name)
        values[name] = int(value) if isinstance(param.default, bool) else value
    if "lecture" in st.query_params or lecture_mode():
        values["lecture"] = int(lecture_mode())
    st.query_params.from_dict({k: str(v) for k, v in values.items()})


def keep_widget_state() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning every
    kept key at the start of each run makes it ordinary session state that survives."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(STATE_PREFIX):
            st.session_state[key] = st.session_state[key]


def show_warnings(messages: list[str]) -> None:
    for message in messages:
        st.warning(message, icon="⚠️")


# ----- lecture mode and figures ----------------------------------------------------------------


def lecture_mode() -> bool:
    return bool(st.session_state.get(f"{STATE_PREFIX}app.lecture", False))


def styled(fig: go.Figure) -> go.Figure:
    """Lecture mode: figure text large enough for the back row of a lecture hall.

    Figures are cached and shared between sessions, so lecture mode styles a copy.
    """
    if lecture_mode():
        fig = go.Figure(fig)
        fig.update_layout(font=dict(size=20), title_font_size=26)
        fig.update_annotations(font_size=20)
        if fig.layout.height:
            fig.update_layout(height=int(fig.layout.height * 1.25))
    return fig


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


def _png_or_empty(fig: go.Figure) -> bytes:
    try:
        return figure_to_png(fig)
    except ExportError:
        return b""  # the download is empty; the caption under each chart names the camera icon


def lecture_table_style() -> None:
    """Lecture mode: the tables' text as large as the rest (st.table has no size setting)."""
    if lecture_mode():
        st.markdown(
            "<style>[data-testid='stTable'] td, [data-testid='stTable'] th "
            "{font-size: 1.3rem !important;}</style>",
            unsafe_allow_html=True,
        )


def download_all(figures: Callable[[], dict[str, go.Figure]], metrics: pd.DataFrame, stem: str) -> None:
    """The ZIP of every figure (`figures` builds them, only when the ZIP is downloaded) and the CSV."""
    left, right = st.columns(2)
    if chrome_path() is not None:
        left.download_button(
            "Download all figures (ZIP)",
            data=lambda: figures_to_zip({name: styled(fig) for name, fig in figures().items()}),
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


def parse_y_values(text: str) -> tuple[list[float], str]:
    """'1, 0.2, -3' → [1.0, 0.2, -3.0]; a warning instead of an error for anything else."""
    values, bad = [], []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            bad.append(part)
            continue
        if math.isfinite(value) and -10 <= value <= 10:
            values.append(value)
        else:
            bad.append(part)
    warning = f"Ignored y values {', '.join(bad)}: use numbers between −10 and 10." if bad else ""
    if not values:
        values = [1.0, 0.2, 0.05, -3.0]
        warning = (warning + " " if warning else "") + "Using the paper's y = 1, 0.2, 0.05, −3."
    return values[:6], warning
