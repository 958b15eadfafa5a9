"""Helpers shared by the pages: the shared result store, background training jobs, URL state,
figure display with PNG export, and lecture mode. The science lives in vae_core."""

from __future__ import annotations

import inspect
import math
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vae_core import figures
from vae_core.cache import PRESETS_DIR, default_cache_dir, lookup, save_result
from vae_core.config import TrainConfig
from vae_core.export import ExportError, chrome_path, figure_to_png, figures_to_zip
from vae_core.training import Progress, TrainResult, train_many

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


# ----- results shared by every session -------------------------------------------------------


@dataclass
class TrainingJob:
    """Configs training in a background thread; sessions poll it and may ask it to stop."""

    configs: list[TrainConfig]
    progress: Progress | None = None
    results: list[TrainResult] | None = None
    error: str = ""
    stop_requested: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class ResultStore:
    """In-process results of every session, backed by the disk cache and shipped presets.

    A config being trained is a running job that later askers join, so two sessions asking
    for the same untrained config train it once.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.results: dict[str, TrainResult] = {}
        self.jobs: dict[str, TrainingJob] = {}
        self.lock = threading.Lock()

    def get(self, config: TrainConfig) -> TrainResult | None:
        key = config.key()
        with self.lock:
            if key in self.results:
                return self.results[key]
        found = lookup(config, [self.directory, PRESETS_DIR])
        if found is not None:
            with self.lock:
                self.results[key] = found
        return found

    def job_for(self, configs: list[TrainConfig]) -> TrainingJob | None:
        with self.lock:
            return next((self.jobs[c.key()] for c in configs if c.key() in self.jobs), None)

    def start(self, configs: list[TrainConfig]) -> TrainingJob:
        """Train those of `configs` not stored yet, in a background thread; join a running job."""
        with self.lock:
            running = next((self.jobs[c.key()] for c in configs if c.key() in self.jobs), None)
            if running is not None:
                return running
            job = TrainingJob(configs=list(configs))
            for config in configs:
                self.jobs[config.key()] = job
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return job

    def _run(self, job: TrainingJob) -> None:
        def on_progress(progress: Progress) -> None:
            job.progress = progress

        try:
            job.results = train_many(job.configs, on_progress, job.stop_requested.is_set)
            for result in job.results:
                if result.status == "stopped":
                    continue  # partial: kept by the session that stopped it, not shared
                with self.lock:
                    self.results[result.config.key()] = result
                try:
                    save_result(result, self.directory)
                except OSError:
                    pass  # a read-only disk only costs the next restart a retrain
        except Exception as error:  # shown to the user; the app keeps running
            job.error = f"{type(error).__name__}: {error}"
        finally:
            with self.lock:
                for config in job.configs:
                    if self.jobs.get(config.key()) is job:
                        del self.jobs[config.key()]
            job.done.set()


@st.cache_resource
def result_store() -> ResultStore:
    return ResultStore(cache_dir())


def show_job_progress(job: TrainingJob, poll: float = 0.3) -> None:
    """A progress bar and a live ELBO chart, redrawn until the job ends, then cleared.

    A Stop click reruns the script, which ends this loop. The progress covers every config of
    the job, also when its ensembles train side by side.
    """
    bar, chart = st.progress(0.0, text="Starting…"), st.empty()
    drawn = None
    while not job.done.wait(timeout=poll):
        progress = job.progress
        # Redrawing an identical chart twice in one run is a duplicate element to Streamlit.
        if progress is None or progress is drawn:
            continue
        drawn = progress
        together = f", {len(progress.configs)} models at once" if len(progress.configs) > 1 else ""
        bar.progress(min(progress.step / progress.total_steps, 1.0),
                     text=f"step {progress.step} of at most {progress.total_steps}{together}")
        labels = [c.model_name if len(progress.configs) == 1 else f"{c.model_name} s{c.seed}"
                  for c in progress.configs]
        # The x-axis is one ensemble's steps; total_steps adds up ensembles run side by side.
        live = figures.live_elbo_figure(progress.steps, progress.train_elbo, labels,
                                        max(c.steps for c in progress.configs))
        chart.plotly_chart(styled(live), width="stretch", theme=None, key=f"live.{progress.step}")
    bar.empty()
    chart.empty()


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
                warnings.append(f"URL parameter `{name}={raw}` ignored ({error}); "
                                f"using the default {param.default}.")
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


def show_figure(fig: go.Figure, name: str) -> None:
    """The chart (its camera icon saves a 2× PNG named after it) and a server-side PNG button."""
    fig = styled(fig)
    config = {"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2},
              "displaylogo": False}
    st.plotly_chart(fig, width="stretch", theme=None, config=config, key=f"chart.{name}")
    if chrome_path() is None:
        st.caption("Server-side PNG needs Chromium on the server; use the camera icon above.")
        return
    st.download_button("Download PNG", data=lambda: _png_or_empty(fig), file_name=f"{name}.png",
                       mime="image/png", key=f"png.{name}", on_click="ignore",
                       icon=":material/download:")


def _png_or_empty(fig: go.Figure) -> bytes:
    try:
        return figure_to_png(fig)
    except ExportError:
        return b""  # the download is empty; the caption under each chart names the camera icon


def download_all(figures: dict[str, go.Figure], metrics: pd.DataFrame, stem: str) -> None:
    left, right = st.columns(2)
    if chrome_path() is not None:
        styled_figures = {name: styled(fig) for name, fig in figures.items()}
        left.download_button("Download all figures (ZIP)",
                             data=lambda: figures_to_zip(styled_figures),
                             file_name=f"{stem}-figures.zip", mime="application/zip",
                             key=f"zip.{stem}", on_click="ignore", icon=":material/folder_zip:")
    right.download_button("Download metrics (CSV)", data=metrics.to_csv(index=False),
                          file_name=f"{stem}-metrics.csv", mime="text/csv", key=f"csv.{stem}",
                          on_click="ignore", icon=":material/table:")


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
