"""The Train page's hands-on controls (dashboard/explore.py, tour_box.py), driven with AppTest:
the guided tour, pin and compare, probing y, the M slider, the mode sentence, lecture mode on the Overview.

Every config used here is shipped pre-trained (vae_core/pretrained), so nothing trains.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from test_app_pages import (  # the app's AppTest helpers
    assert_no_exception,
    charts,
    new_session,
    open_page,
    saved_downloads,
)

from dashboard import explore
from dashboard.service_client import training_service
from dashboard.url_state import widget_key
from vae_core import convergence, tour
from vae_core.cache import CACHE_ENV, lookup, presets_dir
from vae_core.plots import live


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    training_service.clear()
    yield
    training_service.clear()


def status_boxes(at):
    """The run's status box (success or warning), which says how long training took."""
    return [box for box in (*at.success, *at.warning) if "training took" in box.value]


def button(at, label: str):
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, f"expected one {label!r} button, got {[b.label for b in at.button]}"
    return found[0]


def click(at, label: str):
    button(at, label).click().run()
    assert_no_exception(at)
    return at


def control(at, kind: str, name: str):
    return at.get(kind)[[w.key for w in at.get(kind)].index(widget_key("train", name))]


def probe(at):
    return next(w for w in at.get("number_input") if w.key == explore.probe_key())


def chart(at, name: str) -> dict:
    found = {key: spec for key, spec in charts(at).items() if key.endswith(name)}
    assert len(found) == 1, (name, sorted(charts(at)))
    return next(iter(found.values()))


def legend_names(spec: dict) -> str:
    return " ".join(trace.get("name", "") for trace in spec["data"])


def test_the_tour_walks_the_story_without_touching_a_control():
    at = open_page(new_session({"lecture": "1"}), "train & explore", {"lecture": "1"})
    assert at.session_state[widget_key("app", "lecture")] is not False
    click(at, "Start the tour →")
    for index, step in enumerate(tour.TOUR):
        if index:
            click(at, "Next →")
        config = step.config
        assert control(at, "radio", "prior").value == config.prior
        assert control(at, "radio", "posterior").value == config.posterior
        assert control(at, "select_slider", "noise").value == config.noise_std
        assert control(at, "number_input", "seed").value == config.seed
        assert probe(at).value == step.probe_y
        # The step's run is shown at once (shipped pre-trained), as the one-line summary says.
        assert any(tour.settings_summary(config) in c.value for c in at.caption)
        # Its status box is the one the page's rule gives the stored preset: a success if it
        # converged, a warning if it ended its schedule still improving (the rule decides, not
        # this test; e.g. a σ = 0.1 preset whose last evaluations still gained 0.001 nats).
        assert len(status_boxes(at)) == 1 and config.model_name in status_boxes(at)[0].value
        stored = lookup(config, [presets_dir()])
        outcome = convergence.outcome(
            stored.status,
            stored.history["validation_elbo"].dropna().tolist(),
            stored.metrics.get("likelihood_gap_to_truth"),
        )
        expected = at.success if outcome in (convergence.CONVERGED, convergence.COMPLETED) else at.warning
        assert status_boxes(at)[0] in list(expected), (outcome, status_boxes(at)[0].value)
        text = " ".join(m.value for m in at.markdown)
        assert step.title in text
        pinned = at.session_state[explore.PINNED] if explore.PINNED in at.session_state else None
        if step.pinned is None:
            assert pinned is None
        else:
            assert pinned.config == step.pinned
            assert live.run_label(step.pinned, pinned=True) in legend_names(chart(at, "view.marginal"))
    assert button(at, "Next →").disabled
    click(at, "← Back")
    assert tour.TOUR[-2].title in " ".join(m.value for m in at.markdown)


def test_pin_a_run_and_compare_it_with_the_next():
    at = open_page(new_session(), "train & explore")
    assert "B:" not in legend_names(chart(at, "view.marginal"))
    click(at, "Pin this run")
    assert button(at, "Unpin")
    click(at, "MoG prior (paper)")  # a preset: another pre-trained run
    at.session_state[widget_key("train", "details")] = "Prior"  # open the tab that draws the prior
    at.run()
    for name in ("view.marginal", "view.decoder", "_prior"):
        names = legend_names(chart(at, name))
        assert "A: MFG-VAE + MoG prior, seed 0" in names and "B: MFG-VAE, seed 0" in names, name
    click(at, "Unpin")
    assert "B:" not in legend_names(chart(at, "view.marginal"))


def test_the_pinned_run_is_in_every_detail_tab():
    at = open_page(new_session(), "train & explore")
    click(at, "Pin this run")
    click(at, "MoG prior (paper)")
    a_label, b_label = "A: MFG-VAE + MoG prior, seed 0", "B: MFG-VAE, seed 0"
    (table,) = at.table  # Metrics, open at first: A, B and A − B side by side
    assert list(table.value.columns) == ["A", "B", "A − B"]
    row = table.value.loc["test log p_θ(y)"]
    assert float(row["A − B"]) == pytest.approx(float(row["A"]) - float(row["B"]), abs=2e-4)
    for tab, name in (
        ("Training curves", "_training_curves"),
        ("Decoder", "_decoder"),
        ("p(y)", "_generated_marginal"),
    ):
        at.session_state[widget_key("train", "details")] = tab
        at.run()
        assert_no_exception(at)
        names = legend_names(chart(at, name))
        assert a_label in names and b_label in names, tab
    for tab, name in (("Posteriors", "posteriors"), ("Encoder", "encoder")):
        at.session_state[widget_key("train", "details")] = tab
        at.run()
        assert_no_exception(at)
        drawn = [key for key in charts(at) if key.endswith(name) or key.endswith(f"{name}_B")]
        assert len(drawn) == 2 and any(key.endswith("_B") for key in drawn), (tab, drawn)
        assert any(b_label in m.value for m in at.markdown), tab


def test_probe_y_moves_the_posterior_and_the_markers():
    at = open_page(new_session(), "train & explore")
    probe(at).set_value(0.2).run()
    assert_no_exception(at)
    assert chart(at, "view.posterior")["layout"]["title"]["text"] == "Posterior at y = 0.2"
    for name in ("view.marginal", "view.heatmap"):
        assert [shape["x0"] for shape in chart(at, name)["layout"]["shapes"]] == [0.2]
    assert at.query_params["probe"] == ["0.2"] or at.query_params["probe"] == "0.2"


def test_the_m_slider_is_disabled_when_no_part_is_a_mixture():
    at = open_page(new_session(), "train & explore")
    assert control(at, "slider", "M").disabled
    click(at, "MoG posterior (paper)")
    assert not control(at, "slider", "M").disabled


def test_the_page_says_whether_a_mixture_posterior_uses_its_modes():
    at = open_page(new_session(), "train & explore")
    click(at, "MoG posterior (paper)")
    probe(at).set_value(0.1).run()
    result = lookup(tour.MOG_POSTERIOR, [presets_dir()])
    modes = live.posterior_modes(result.model, result.config, 0.1)
    shown = [w.value for w in at.warning] + [c.value for c in at.caption]
    assert modes.sentence() in shown
    assert (modes.sentence() in [w.value for w in at.warning]) == (modes.q_modes <= 1)
    # In lecture mode the same sentence, on one line.
    at.session_state[widget_key("app", "lecture")] = True
    at.run()
    assert any(modes.sentence() in m.value for m in [*at.markdown, *at.caption])


def test_lecture_mode_stays_in_the_overview_url():
    at = new_session({"lecture": "1"})
    assert at.query_params["lecture"] in ("1", ["1"])


def test_the_tour_buttons_come_first_and_the_prior_step_shows_the_prior_above_the_fold():
    """Next → sits above the step's text (a long text in the narrow sidebar pushed it below a
    1080-px screen), and the step about the prior draws the prior figure in the view."""
    at = open_page(new_session({"lecture": "1"}), "train & explore", {"lecture": "1"})
    click(at, "Start the tour →")
    labels = [b.label for b in at.sidebar.button]
    assert labels[0] == "Next →", labels
    prior_step = next(i for i, s in enumerate(tour.TOUR) if s.look_at[0] == "prior")
    for index in range(1, prior_step + 1):
        click(at, "Next →")
        shown = charts(at)
        first = [spec for key, spec in shown.items() if key.endswith("view.first")]
        if index == prior_step:
            assert first, sorted(shown)
            assert "prior" in first[0]["layout"]["title"]["text"].lower()
        else:
            assert not first and any(key.endswith("view.heatmap") for key in shown)


def test_the_metrics_csv_carries_the_run_settings(monkeypatch):
    """A downloaded metrics table says which run it measured (issue 9: it lacked the settings)."""
    saved = saved_downloads(monkeypatch)
    open_page(new_session(), "train & explore")
    (name,) = [n for n in saved if n.endswith("-metrics.csv")]
    table = pd.read_csv(io.StringIO(saved[name]))
    settings = dict(zip(table["metric"], table["value"], strict=True))
    config = tour.MFG  # the page's defaults: the MFG-VAE preset
    assert float(settings["setting: noise_std"]) == config.noise_std
    assert settings["setting: prior"] == config.prior and int(settings["setting: seed"]) == config.seed
    assert "test ELBO" in settings  # and the metrics themselves


def test_mfg_and_mog_are_spelled_out_on_every_page_that_names_them():
    at = new_session()
    for page in ("overview", "train & explore", "compare"):
        if page != "overview":
            open_page(at, page)
        text = " ".join(m.value for m in at.markdown)
        assert "mean-field Gaussian" in text and "mixture of Gaussians" in text, page
