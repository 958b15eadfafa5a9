"""Every curve of every figure says on hover what it means, in one sentence (issue 9), and the
model's exact p_θ(z|y) has a colour unlike every model's (it was an orange dash beside the red
MoG-VAE line)."""

from __future__ import annotations

import numpy as np
import plotly.colors as plotly_colors
import pytest

from vae_core.config import TrainConfig
from vae_core.plots import compare, live, run, style, truth
from vae_core.training import train

SENTENCES = set(style.MEANINGS.values())


@pytest.fixture(scope="module")
def runs():
    """Two short seeds of the MoG posterior and one MoG prior run (shapes, not convergence)."""
    mog_q = [train(TrainConfig(posterior="mog", steps=150, seed=seed)) for seed in (0, 1)]
    mog_prior = train(TrainConfig(prior="mog", steps=150, seed=0))
    return {"MoG-VAE (MoG posterior)": mog_q, "MFG-VAE + MoG prior": [mog_prior]}


def every_figure(runs) -> dict:
    mog_q = runs["MoG-VAE (MoG posterior)"][0]
    history = mog_q.history.dropna(subset=["train_elbo"])
    shown = [live.shown_result(mog_q), live.shown_result(runs["MFG-VAE + MoG prior"][0], pinned=True)]
    return {
        "true decoder": truth.true_decoder_figure(),
        "true marginal": truth.true_marginal_figure(0.1, data_y=np.zeros(10)),
        "true heat map": truth.true_posterior_heatmap(0.1, n_y=21, n_z=21),
        "true slices": truth.true_posterior_slices(0.1),
        **run.model_figures(mog_q),
        "snapshots": run.decoder_snapshots_figure(mog_q),
        "animation": run.decoder_animation_figure(mog_q),
        "prior": run.prior_figure(shown),
        "compare curves": run.training_curves_figure(runs),
        "compare decoders": compare.compare_decoders_figure(runs),
        "compare generated": compare.compare_generated_figure(runs),
        "compare posteriors": compare.compare_posteriors_figure(runs),
        "live elbo": live.live_elbo_figure(
            history["step"].to_numpy(), history[["train_elbo"]].to_numpy(), ["A: MoG-VAE"], 150
        ),
        **live.live_figures(shown, 0.1),
        "live heat map": live.truth_heatmap_figure(0.1, 0.1),
    }


def test_every_curve_of_every_figure_says_what_it_means(runs):
    for name, fig in every_figure(runs).items():
        for trace in fig.data:
            text = trace.hovertemplate
            assert text, f"{name}: '{trace.name}' has no hover text"
            lines = text.split("<br>")
            assert lines[0].startswith("<b>"), (name, text)  # the curve's name first
            meaning = " ".join(lines[1:-1])  # the sentence, wrapped on short lines
            assert meaning.endswith("."), (name, meaning)  # then one whole sentence
            assert all(len(line) <= style.HOVER_WIDTH for line in lines[1:-1]), (name, lines)
            if "click" not in lines[0]:
                assert meaning in SENTENCES, (name, meaning)


def test_the_seeds_are_named_on_hover(runs):
    fig = compare.compare_decoders_figure(runs)
    seeds = [t.hovertemplate.split("<br>")[0] for t in fig.data if t.name.startswith("seed")]
    assert "<b>MoG-VAE (MoG posterior), seed 1</b>" in seeds


def test_exact_posterior_is_olive_and_dashed_in_the_posterior_figures(runs):
    mog_q = runs["MoG-VAE (MoG posterior)"][0]
    for fig in (
        run.posterior_figure(mog_q),
        compare.compare_posteriors_figure(runs),
        live.posterior_live_figure([live.shown_result(mog_q)], 0.1),
    ):
        exact = [t for t in fig.data if "p_θ(z|y)" in t.name]
        assert exact and {t.line.color for t in exact} == {style.EXACT_COLOR}
        assert {t.line.dash for t in exact} == {"dash"}


def test_exact_posterior_colour_is_unlike_every_model_colour():
    def rgb(color):
        return np.array(plotly_colors.hex_to_rgb(color), dtype=float)

    for color in [*style.MODEL_COLORS.values(), "#000000"]:  # and the truth's black
        assert np.linalg.norm(rgb(style.EXACT_COLOR) - rgb(color)) > 100, color


def test_live_figures_keep_the_users_zoom_and_finished_run_figures_do_not(runs):
    """The compact layout of the live view keeps zoom across redraws (uirevision); the
    animation and snapshots share that layout but are drawn once."""
    mog_q = runs["MoG-VAE (MoG posterior)"][0]
    for fig in live.live_figures([live.shown_result(mog_q)], 0.1).values():
        assert fig.layout.uirevision == "live"
    for fig in (run.decoder_animation_figure(mog_q), run.decoder_snapshots_figure(mog_q)):
        assert fig.layout.uirevision is None


# ----- one panel per y: every typed y drawn, no title over its neighbour's -----------------------

EIGHT_Y = (1.0, 0.2, 0.05, -3.0, 0.1, 0.15, -0.05, 0.3)
# The narrowest a panel gets: lecture mode (20 px titles) at a 1400 px window leaves a plot of
# about 1160 px; four panels with make_subplots' default gaps (0.2 / columns) get 0.85 / 4 each.
LECTURE_TITLE_PX = 20
NARROW_PLOT_PX = 1160
CHAR_EM = 0.6  # a generous average width of a character of Plotly's default font, in em


def titles_by_row(fig) -> dict[float, list[str]]:
    rows: dict[float, list[str]] = {}
    for annotation in fig.layout.annotations:
        rows.setdefault(round(annotation.y, 6), []).append(annotation.text)
    return rows


def assert_titles_fit(fig, columns: int) -> None:
    panel_px = NARROW_PLOT_PX * (1 - 0.2 * (columns - 1) / columns) / columns
    for row, texts in titles_by_row(fig).items():
        assert len(texts) <= style.PANELS_PER_ROW, (row, texts)
        for text in texts:
            for line in text.split("<br>"):
                width = len(line) * CHAR_EM * LECTURE_TITLE_PX
                assert width < panel_px, f"'{line}' ({width:.0f} px) overruns its {panel_px:.0f} px panel"


def test_y_panel_grid_wraps_after_four():
    assert [style.y_panel_grid(n) for n in (1, 3, 4, 5, 8)] == [(1, 1), (1, 3), (1, 4), (2, 4), (2, 4)]
    assert [style.y_panel_place(i, 4) for i in (0, 3, 4, 7)] == [(1, 1), (1, 4), (2, 1), (2, 4)]
    assert style.padded_rows(["a", "b", "c", "d", "e"], 4) == ["a", "b", "c", "d", "e", "", "", ""]


def test_eight_y_values_draw_eight_posterior_panels_in_two_groups(runs):
    result = runs["MoG-VAE (MoG posterior)"][0]
    fig = run.posterior_figure(result, EIGHT_Y)
    texts = [a.text for a in fig.layout.annotations]
    assert [t.split("<br>")[0] for t in texts if "KL" in t] == [f"y = {y:g}" for y in EIGHT_Y]
    assert [t for t in texts if t.startswith("truth")] == [f"truth, y = {y:g}" for y in EIGHT_Y]
    assert len(titles_by_row(fig)) == 4, "a model row over a truth row, twice"
    q_curves = [t for t in fig.data if t.name == "encoder q(z|y)"]
    truth_curves = [t for t in fig.data if t.name.startswith("true p(z|y)")]
    assert len(q_curves) == len(truth_curves) == len(EIGHT_Y)
    assert len({t.xaxis for t in q_curves + truth_curves}) == 2 * len(EIGHT_Y), "one panel each"
    assert sum(t.showlegend is not False for t in fig.data) == 3, "each curve named once"
    assert_titles_fit(fig, columns=4)
    assert fig.layout.height > run.POSTERIORS_HEIGHT


def test_four_y_values_keep_the_one_group_layout(runs):
    fig = run.posterior_figure(runs["MoG-VAE (MoG posterior)"][0])
    assert len(titles_by_row(fig)) == 2 and fig.layout.height == run.POSTERIORS_HEIGHT
    assert_titles_fit(fig, columns=4)


def test_eight_true_posterior_slices_in_two_rows():
    fig = truth.true_posterior_slices(0.1, EIGHT_Y)
    assert [a.text for a in fig.layout.annotations] == [f"y = {y:g}" for y in EIGHT_Y]
    assert len(titles_by_row(fig)) == 2
    assert len({t.xaxis for t in fig.data}) == len(EIGHT_Y)
    assert_titles_fit(fig, columns=4)
