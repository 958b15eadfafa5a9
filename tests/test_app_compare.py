"""The Compare page in Streamlit's AppTest: presets open without training, URL state, controls."""

import dataclasses
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app_pages import figure_builds, saved_downloads  # noqa: F401  (figure_builds is a fixture)

from dashboard.service_client import training_service  # the app's: the one cleared here
from dashboard.url_state import widget_key
from vae_core.cache import CACHE_ENV, FORMAT_VERSION, presets_dir
from vae_core.claims import PER_SEED_COLUMNS
from vae_core.config import NOISE_LEVELS
from vae_core.paper import comparison_configs, preset_configs

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
PAGE = "views/compare.py"


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """Only the shipped presets: nothing from the user's own cache."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    training_service.clear()
    yield
    training_service.clear()


def open_compare(**query) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query)  # a shared link: read on the page's first visit
    at.run()  # the default page (overview) first, as in a browser, so app.py's sidebar runs
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def test_presets_render_instantly_without_training():
    assert any(presets_dir().glob(f"*-v{FORMAT_VERSION}")), "no presets: run `python -m vae_core presets`"
    at = open_compare()
    assert not at.get("progress"), "the default view must not train"
    assert not training_service().jobs
    assert not any("Train missing" in b.label for b in at.button)
    assert len(at.get("plotly_chart")) == 4
    claims_text = texts(at.markdown)
    for claim in ("C1", "C2", "C3", "C4", "C5"):
        assert f"**{claim}** :" in claims_text  # the claim and its verdict's badge
    assert claims_text.count("**The paper says**") == 5  # a plain sentence per claim
    assert "the evidence, with its numbers" in " ".join(e.label for e in at.expander)
    assert not at.error, "a finding is not an error: no red box"
    table = at.table[0].value
    assert list(table.columns)[0] == "MFG-VAE" and len(table.columns) == 4
    assert (table != "").all().all(), "an empty cell"
    assert "seed 0 solid, seed 1 dotted" in texts(at.caption), "the seeds' line styles need a key"


def test_bad_url_parameter_warns_and_uses_the_default():
    at = open_compare(noise="banana", M="99")
    warnings = texts(at.warning)
    assert "got `banana`" in warnings and "M must be between 2 and 20, got `99`" in warnings
    assert at.select_slider(key=widget_key("compare", "noise")).value == 0.1
    assert at.slider(key=widget_key("compare", "M")).value == 10


def test_settings_without_presets_offer_training_and_do_not_start_it():
    at = open_compare()
    at.slider(key=widget_key("compare", "M")).set_value(7).run()
    assert not at.exception
    assert any(b.label == "Train missing models" for b in at.button)
    # MFG-VAE ignores M, so its five pre-trained seeds still apply: 15 of 20 are missing.
    assert "15 of 20 trained models" in texts(at.info)
    assert not at.get("progress") and not training_service().jobs
    assert at.query_params.get("M") == "7"


@pytest.mark.parametrize("fourth", [True, False])
def test_every_noise_level_shows_the_comparison_or_offers_training(fourth):
    """Each σ the page offers: the comparison's figures where every model is pre-trained, else
    none (and no training starts by itself)."""
    shipped = {config.key() for config in preset_configs()}
    at = open_compare()
    at.checkbox(key=widget_key("compare", "fourth")).set_value(fourth).run()
    for noise in NOISE_LEVELS:
        for seeds in (3, 5):
            at.select_slider(key=widget_key("compare", "noise")).set_value(noise)
            at.slider(key=widget_key("compare", "seeds")).set_value(seeds).run()
            assert not at.exception, (noise, seeds, fourth)
            wanted = comparison_configs(noise, seeds=tuple(range(seeds)), include_fourth=fourth)
            all_shipped = all(c.key() in shipped for cs in wanted.values() for c in cs)
            drawn = len(at.get("plotly_chart"))
            assert (drawn > 0) == all_shipped, (noise, seeds, fourth, drawn)
    assert not training_service().jobs


def chart_heights(at: AppTest) -> list[int]:
    return [json.loads(chart.proto.spec)["layout"]["height"] for chart in at.get("plotly_chart")]


def test_lecture_mode_collapses_controls_and_leaves_the_shared_figures_alone():
    lecture = open_compare(lecture="1")
    assert not lecture.expander[0].proto.expanded
    # The figures are cached for every session: a lecture session must restyle copies, or the
    # next session would inherit (and each rerun compound) the lecture sizes.
    plain = open_compare()
    assert plain.expander[0].proto.expanded
    assert chart_heights(lecture) == [int(h * 1.25) for h in chart_heights(plain)]


def test_a_diverged_seed_is_listed_not_drawn_and_not_counted():
    from vae_core.paper import comparison_configs

    config = comparison_configs()["MoG-VAE (MoG posterior)"][1]
    preset = training_service().lookup(config)
    training_service().results[config.key()] = dataclasses.replace(
        preset,
        status="diverged",
        steps_run=412,
        diverged_step=412,
        metrics={},
        diverged_reason="the ELBO became nan at step 412",
    )
    at = open_compare()
    warnings = texts(at.warning)
    assert "MoG-VAE (MoG posterior), seed 1: stopped at step 412 (the ELBO became nan" in warnings
    table = at.table[0].value
    assert table.loc["seeds used (diverged)", "MoG-VAE (MoG posterior)"] == "4 of 5 (1)"
    verdicts = texts(at.markdown) + warnings
    assert "Training diverged in 1 of 5 MoG-posterior runs (seed 1 at step 412)" in verdicts
    decoders = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "decoders" in c.proto.id)
    drawn = [t for t in decoders["data"] if t.get("xaxis") == "x2" and t["name"] != "ground truth f(u)"]
    assert [t["name"] for t in drawn] == ["seed 0", "seed 2", "seed 3", "seed 4"]


def test_a_warm_rerun_trains_and_draws_nothing(figure_builds):  # noqa: F811
    """A rerun of a preset comparison finds its numbers and figures in the shared cache (its
    speed is benchmarks/bench_class's to measure, not a test's)."""
    at = open_compare()
    at.run()
    assert not at.exception
    built = len(figure_builds)
    at.run()
    assert not at.exception
    assert figure_builds[built:] == [], "a warm rerun rebuilt the comparison"
    assert not at.get("progress") and not training_service().jobs


def test_the_csv_download_has_readable_column_names(monkeypatch):
    saved = saved_downloads(monkeypatch)
    open_compare()
    (name,) = [n for n in saved if n.endswith("-metrics.csv")]
    header = saved[name].splitlines()[0].split(",")
    assert header == list(PER_SEED_COLUMNS.values())
    assert "test log p_θ(y)" in header and "test_log_likelihood" not in header
