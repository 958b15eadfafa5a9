"""The Streamlit pages, driven headlessly with streamlit.testing.v1.AppTest.

Each test starts from an empty result cache: VAE_MOG_LAB_CACHE points at the test's tmp_path and
the shared in-process store (an st.cache_resource) is cleared. Training runs use 200 steps, so a
test that trains takes a few seconds.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import dashboard.charts  # the very modules the app imports, so their caches are shared
from dashboard.service_client import training_service
from vae_core.cache import CACHE_ENV
from vae_core.config import TrainConfig

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
TIMEOUT = 120  # seconds per script run; a 200-step run takes ~2 s, a diverging one up to ~20 s
# The page files app.py's st.navigation lists, by file name: {"train": "views/train.py", ...}
PAGE_FILES = {Path(path).stem: path for path in re.findall(r'st\.Page\(\s*"([^"]+\.py)"', APP.read_text())}
PAGES = {
    "overview": PAGE_FILES["overview"],
    "ground truth": PAGE_FILES["ground_truth"],
    "train & explore": PAGE_FILES["train"],
    "compare": PAGE_FILES["compare"],
}
SMALL_STEPS = 200
# The Train page's detail tabs and the chart each draws (the Metrics tab draws the table).
TRAIN_FIGURES = {
    "Training curves": "training_curves",
    "Decoder": "decoder",
    "p(y)": "generated_marginal",
    "Posteriors": "posteriors",
    "Encoder": "encoder",
    "Prior": "prior",
    "Training animation": "training_animation",
}
VIEW_CHARTS = ("view.heatmap", "view.marginal", "view.decoder", "view.posterior")  # dashboard.explore


# ----- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def figure_builds(monkeypatch) -> list[tuple]:
    """The key of every figure (or view) the app's shared figure cache had to build: a rerun
    that finds everything cached builds nothing."""
    built = []
    cached = dashboard.charts._shared

    def counting(key, _build):
        def build():
            built.append(key)
            return _build()

        return cached(key, build)

    monkeypatch.setattr(dashboard.charts, "_shared", counting)
    return built


class TrainedLog:
    """Every config the app's training services (one per simulated server restart) finished
    training, one [config] per run."""

    def __init__(self):
        self.per_service: dict[int, list] = {}

    def _all(self) -> list:
        service = training_service()
        self.per_service[id(service)] = service.trained
        return [config for trained in self.per_service.values() for config in trained]

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: int) -> list:
        return [self._all()[index]]

    def __bool__(self) -> bool:
        return len(self) > 0


@pytest.fixture
def train_calls(tmp_path, monkeypatch) -> TrainedLog:
    """An empty cache for this test, and a record of every model the training service trains."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    training_service.clear()
    yield TrainedLog()
    training_service.clear()  # the next test must not see this test's results


def run_until_trained(at: AppTest, timeout: float = TIMEOUT) -> AppTest:
    """Rerun the page (as its progress fragment would) until nothing of it is training."""
    deadline = time.monotonic() + timeout
    while training_service().jobs:
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.2)
        at.run()
        assert_no_exception(at)
    at.run()
    assert_no_exception(at)
    return at


def new_session(query_params: dict | None = None) -> AppTest:
    """A fresh browser session: its first run shows the default page (overview)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(query_params or {})
    at.run()
    assert_no_exception(at)
    return at


def open_page(at: AppTest, page: str, query_params: dict | None = None) -> AppTest:
    """Navigate to a page as a link with `?query_params` would (the URL is read on first visit)."""
    if query_params is not None:
        at.query_params.clear()
        at.query_params.update(query_params)
    at.switch_page(PAGES[page]).run()
    assert_no_exception(at)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, "\n\n".join(e.message + "\n" + "\n".join(e.stack_trace) for e in at.exception)


def rerun_builds_nothing(at: AppTest, builds: list, calls: TrainedLog) -> None:
    """A rerun with every cache filled trains nothing and builds no figure (the warm page's
    speed is benchmarks/bench_class's to measure, not a test's)."""
    built_before, trained_before = len(builds), len(calls)
    at.run()
    assert_no_exception(at)
    assert builds[built_before:] == [], "a warm rerun rebuilt figures"
    assert len(calls) == trained_before, "a warm rerun trained"
    assert not training_service().jobs, "a warm rerun started training"


def charts(at: AppTest) -> dict[str, dict]:
    """{chart name: figure JSON} of every st.plotly_chart drawn with a key `chart.<name>`."""
    found = {}
    for chart in at.get("plotly_chart"):
        element_id = chart.proto.id
        name = element_id.split("-chart.", 1)[1] if "-chart." in element_id else element_id
        found[name] = json.loads(chart.proto.spec)
    return found


def chart_named(found: dict[str, dict], suffix: str) -> dict:
    matches = [spec for name, spec in found.items() if name.endswith(suffix)]
    assert len(matches) == 1, f"expected one chart named *{suffix}, got {sorted(found)}"
    return matches[0]


def non_finite_numbers(spec: dict) -> list[str]:
    """Where a figure's traces (and animation frames) hold NaN, ±inf or null numbers.

    Plotly serialises numpy arrays as typed arrays ({"dtype", "bdata"}) and NaN in lists as null;
    layout is not searched (a Pause button's args are legitimately [null]).
    """
    bad: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            if "bdata" in node and "dtype" in node:
                raw = base64.b64decode(node["bdata"])
                values = np.frombuffer(raw, dtype=np.dtype(node["dtype"]))
                if values.dtype.kind == "f" and not np.isfinite(values).all():
                    bad.append(f"{path}: {int((~np.isfinite(values)).sum())} of {values.size}")
                return
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            numeric = [v for v in node if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if numeric and len(numeric) + node.count(None) == len(node):
                missing = node.count(None) + sum(not math.isfinite(v) for v in numeric)
                if missing == len(node):
                    bad.append(f"{path}: all {len(node)} values missing")
                elif any(not math.isfinite(v) for v in numeric):
                    bad.append(f"{path}: non-finite values")
                return
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(spec.get("data", []), "data")
    for index, frame in enumerate(spec.get("frames", [])):
        walk(frame.get("data", []), f"frames[{index}].data")
    return bad


def saved_downloads(monkeypatch) -> dict[str, str]:
    """{file name: text} of every download button the app draws from now on (AppTest does not
    click downloads, so the files are caught where Streamlit stores them)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    saved = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            saved[filename] = path_or_data.decode() if isinstance(path_or_data, bytes) else path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return saved


def buttons(at: AppTest, label: str) -> list:
    return [b for b in at.button if b.label == label]


def train_small(at: AppTest, calls: list, steps: int = SMALL_STEPS) -> AppTest:
    """On the train page: set `steps`, press Train and wait for the run to finish."""
    at.slider(key="w.train.steps").set_value(steps).run()
    assert_no_exception(at)
    (train_button,) = buttons(at, "Train")
    before = len(calls)
    train_button.click().run()
    assert_no_exception(at)
    run_until_trained(at)
    assert len(calls) == before + 1, "pressing Train must train exactly once"
    return at


# ----- every page ----------------------------------------------------------------------------


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_and_a_rerun_recomputes_nothing(page, train_calls, figure_builds):
    assert (REPO / PAGES[page]).exists(), f"app.py lists {PAGES[page]}, which does not exist"
    at = open_page(new_session(), page)
    assert at.title, f"the {page} page draws no title"
    rerun_builds_nothing(at, figure_builds, train_calls)


def test_a_trained_train_page_reruns_without_recomputing(train_calls, figure_builds):
    at = train_small(open_page(new_session(), "train & explore"), train_calls)
    at.run()  # the run that trained drew its Train button before training
    assert_no_exception(at)
    rerun_builds_nothing(at, figure_builds, train_calls)
    rerun_builds_nothing(at, figure_builds, train_calls)
    assert len(train_calls) == 1


# ----- ground truth --------------------------------------------------------------------------


def test_ground_truth_noise_changes_figures(train_calls):
    at = open_page(new_session(), "ground truth")
    before = charts(at)
    assert len(before) == 4, sorted(before)
    assert at.query_params["noise"] == "0.1"

    at.select_slider(key="w.truth.noise").set_value(0.03).run()
    assert_no_exception(at)
    after = charts(at)
    assert len(after) == 4, sorted(after)
    assert at.query_params["noise"] == "0.03"  # the URL shares the new view

    assert chart_named(before, "true_decoder") == chart_named(after, "true_decoder")  # no σ in f
    for figure in ("true_marginal", "true_posterior_heatmap", "true_posterior_slices"):
        old = chart_named(before, f"{figure}_sigma0.1")
        new = chart_named(after, f"{figure}_sigma0.03")
        assert old["data"] != new["data"], f"{figure} did not change with σ"
    for name, spec in after.items():
        assert not non_finite_numbers(spec), (name, non_finite_numbers(spec))


# ----- train & explore -----------------------------------------------------------------------


def status(at):
    """The run's status box: a success (converged), a warning (still improving at the cap,
    stuck in a poor optimum) or an info (stopped by the user), all saying how long it took."""
    return [box for box in (*at.success, *at.warning, *at.info) if "training took" in box.value]


def test_train_small_run_shows_figures_and_metrics(train_calls):
    at = open_page(new_session(), "train & explore")
    at.slider(key="w.train.steps").set_value(SMALL_STEPS).run()
    assert_no_exception(at)
    assert buttons(at, "Train"), "an untrained config offers a Train button"
    assert [name.rsplit("-", 1)[-1] for name in charts(at)] == ["view.heatmap"], "the truth alone"
    assert any("Not trained yet" in info.value for info in at.info)

    train_small(at, train_calls)
    (trained_config,) = train_calls[0]
    assert trained_config.steps == SMALL_STEPS
    assert at.query_params["steps"] == str(SMALL_STEPS)

    assert len(status(at)) == 1
    assert "MFG-VAE" in status(at)[0].value
    assert not at.error
    at.run()  # the run that trained drew its Train button before training
    assert_no_exception(at)
    assert not buttons(at, "Train"), "a trained config needs no Train button"
    assert len(status(at)) == 1

    (metrics,) = at.table  # the first tab, open at first
    values = metrics.value["value"].to_numpy(dtype=float)
    assert len(values) >= 10
    assert np.isfinite(values).all(), metrics.value
    assert list(metrics.value.columns) == ["value", "meaning"]
    assert not detail_charts(at), "a closed tab builds nothing"

    for tab, figure in TRAIN_FIGURES.items():
        at.session_state["w.train.details"] = tab  # what clicking the tab does
        at.run()
        assert_no_exception(at)
        assert at.query_params["details"] == tab, "the open tab is kept in the URL"
        assert not at.table, f"{tab}: only the open tab is drawn"
        (name,) = detail_charts(at)
        assert name.endswith(f"_{figure}"), (tab, name)
        spec = charts(at)[name]
        assert spec["data"], f"{figure} has no traces"
        assert not non_finite_numbers(spec), (figure, non_finite_numbers(spec))
        if figure == "training_animation":
            assert spec.get("frames"), "the animation has no frames"


def detail_charts(at: AppTest) -> list[str]:
    """The charts drawn under the detail tabs (every chart but the live view's four)."""
    return [name for name in charts(at) if not name.endswith(VIEW_CHARTS)]


def test_progress_and_stop_while_training(train_calls):
    """While a run trains the page shows its progress and a Stop button (in a fragment);
    Stop keeps the partial model for this session only."""
    at = open_page(new_session(), "train & explore", {"steps": "10000", "early": "0"})
    (train_button,) = buttons(at, "Train")
    train_button.click().run()
    assert_no_exception(at)
    deadline = time.monotonic() + TIMEOUT
    while not (at.get("progress") and "step" in at.get("progress")[0].proto.text):
        assert time.monotonic() < deadline, "no progress shown"
        time.sleep(0.2)
        at.run()
        assert_no_exception(at)
    (stop,) = buttons(at, "Stop")
    stop.click().run()
    run_until_trained(at)
    assert len(status(at)) == 1 and "stopped by you" in status(at)[0].value
    assert not train_calls, "a stopped run is not a trained (cached) model"


def test_cached_config_is_shown_without_retraining(train_calls):
    at = train_small(open_page(new_session(), "train & explore"), train_calls)
    shown = status(at)[0].value

    at.run()  # a rerun of the same session
    assert_no_exception(at)
    assert len(train_calls) == 1
    assert [s.value for s in status(at)] == [shown]

    # A second session opening the same settings from a shared link: shown at once.
    other = open_page(new_session(), "train & explore", {"steps": str(SMALL_STEPS), "details": "Decoder"})
    assert not buttons(other, "Train")
    assert [s.value for s in status(other)] == [shown]
    (decoder,) = detail_charts(other)  # the shared link's tab, and only it
    assert decoder.endswith("_decoder")
    assert len(charts(other)) == 1 + len(VIEW_CHARTS)
    assert len(train_calls) == 1

    # After a server restart (a new training service) the disk cache still has it.
    training_service.clear()
    restarted = open_page(new_session(), "train & explore", {"steps": str(SMALL_STEPS)})
    assert not buttons(restarted, "Train")
    assert len(status(restarted)) == 1
    assert len(train_calls) == 1


@pytest.fixture(scope="module")
def diverging_run(tmp_path_factory):
    """The train page after the diverging (lr = 10) preset and Train, at 200 steps.

    Trained once for the tests below (such a run takes ~15-25 s, mostly in the metrics).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("diverging-cache")))
        training_service.clear()
        at = open_page(new_session(), "train & explore")
        at.slider(key="w.train.steps").set_value(SMALL_STEPS).run()
        (preset,) = buttons(at, "Blow-up at lr = 10")
        assert "Not the paper's divergence" in preset.help
        preset.click().run()
        assert_no_exception(at)
        assert at.radio(key="w.train.posterior").value == "mog"
        assert at.select_slider(key="w.train.lr").value == 10.0
        assert at.select_slider(key="w.train.noise").value == 0.01
        (train_button,) = buttons(at, "Train")
        train_button.click().run()
        assert_no_exception(at)
        run_until_trained(at)
        training_service.clear()
    return at


def test_diverging_preset_draws_no_broken_figures(diverging_run):
    """Whatever the run does, the page never shows NaN figures or non-finite metrics."""
    for name, spec in charts(diverging_run).items():
        assert not non_finite_numbers(spec), (name, non_finite_numbers(spec))
    for frame in diverging_run.table:
        values = frame.value["value"].to_numpy(dtype=float)
        assert np.isfinite(values).all(), frame.value


def test_diverging_preset_reports_divergence(diverging_run):
    """The regression this guards: bounded scales keep the ELBO finite (about −1e7) while Adam
    blows up, and the run used to be reported as a success with meaningless figures."""
    at = diverging_run
    assert not at.success, f"a diverging run reported as a success: {at.success[0].value}"
    assert len(at.error) == 1
    message = at.error[0].value
    assert "diverged" in message
    assert "step" in message and any(ch.isdigit() for ch in message)
    assert not at.success
    assert not at.get("plotly_chart"), "a diverged run draws no model figures"


# ----- URL state -----------------------------------------------------------------------------


def warnings_text(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def test_bad_query_params_warn_and_use_defaults_on_train_page(train_calls):
    bad = {
        "noise": "banana",
        "M": "999",
        "prior": "cauchy",
        "steps": "1e9",
        "lr": "nan",
        "early": "maybe",
        "seed": "-3",
        "hidden": "7",
    }
    at = open_page(new_session(), "train & explore", bad)
    text = warnings_text(at)
    for name in bad:
        assert f"`{name}` ignored" in text and f"got `{bad[name]}`" in text, (
            f"no warning about {name}: {text}"
        )
    assert at.select_slider(key="w.train.noise").value == 0.1
    assert at.slider(key="w.train.M").value == 10
    assert at.radio(key="w.train.prior").value == "gaussian"
    assert at.slider(key="w.train.steps").value == TrainConfig().steps
    assert at.select_slider(key="w.train.lr").value == 0.01
    assert at.checkbox(key="w.train.early").value is True
    assert at.number_input(key="w.train.seed").value == 0
    assert at.select_slider(key="w.train.hidden").value == 50
    # The URL now holds the values in use, and the warnings do not come back on a rerun.
    assert at.query_params["noise"] == "0.1" and at.query_params["M"] == "10"
    at.run()
    assert_no_exception(at)
    assert not at.warning
    assert not train_calls


def test_bad_query_params_warn_and_use_defaults_on_ground_truth(train_calls):
    at = open_page(new_session(), "ground truth", {"noise": "banana", "n": "5", "y": "abc, 2"})
    text = warnings_text(at)
    assert "`noise` ignored" in text and "`n` ignored" in text and "got `5`" in text, text
    assert "abc" in text  # the unusable y value is named
    assert at.select_slider(key="w.truth.noise").value == 0.1
    assert at.number_input(key="w.truth.n").value == 1000
    assert len(charts(at)) == 4


def test_good_query_params_restore_the_view(train_calls):
    at = open_page(
        new_session(),
        "train & explore",
        {"prior": "mog", "posterior": "mog", "M": "3", "noise": "0.03", "lr": "0.1"},
    )
    assert not at.warning
    assert at.radio(key="w.train.prior").value == "mog"
    assert at.radio(key="w.train.posterior").value == "mog"
    assert at.slider(key="w.train.M").value == 3
    assert at.select_slider(key="w.train.noise").value == 0.03
    assert at.select_slider(key="w.train.lr").value == 0.1


# ----- lecture mode --------------------------------------------------------------------------


def test_lecture_mode_toggle(train_calls):
    at = open_page(new_session(), "ground truth")
    assert at.expander[0].proto.expanded
    at.toggle(key="w.app.lecture").set_value(True).run()
    assert_no_exception(at)
    assert not at.expander[0].proto.expanded, "lecture mode collapses the controls"
    assert at.query_params.get("lecture") == "1"
    for name, spec in charts(at).items():
        assert spec["layout"]["font"]["size"] == 20, f"{name} is not in lecture font size"
    for page in ("overview", "train & explore", "ground truth"):
        if (REPO / PAGES[page]).exists():
            open_page(at, page)
    at.toggle(key="w.app.lecture").set_value(False).run()
    assert_no_exception(at)
    assert at.expander[0].proto.expanded


def test_lecture_mode_from_url(train_calls):
    at = new_session({"lecture": "1"})
    assert at.toggle(key="w.app.lecture").value is True
    open_page(at, "ground truth")
    assert at.toggle(key="w.app.lecture").value is True


def test_plain_scales_travel_in_the_url_and_reach_the_trained_config(train_calls):
    """Claim C2's divergence needs unbounded scales: the page must train with them when asked."""
    at = open_page(new_session(), "train & explore")
    assert at.checkbox(key="w.train.plain").value is False, "bounded scales are the default"
    at = open_page(new_session(), "train & explore", {"plain": "1", "steps": str(SMALL_STEPS)})
    assert at.checkbox(key="w.train.plain").value is True
    train_small(at, train_calls)
    (trained_config,) = train_calls[0]
    assert trained_config.bounded_scales is False
