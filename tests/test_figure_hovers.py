"""Every curve of every figure says on hover what it means, in one sentence (issue 9), and the
model's exact p_θ(z|y) has a colour unlike every model's (it was an orange dash beside the red
MoG-VAE line). Also: the training animation starts at step 0 with snapshots denser early."""

from __future__ import annotations

import numpy as np
import plotly.colors as plotly_colors
import pytest

from vae_core import figures
from vae_core import live_figures as lf
from vae_core.config import TrainConfig
from vae_core.training import train

SENTENCES = set(figures.MEANINGS.values())


@pytest.fixture(scope="module")
def runs():
    """Two short seeds of the MoG posterior and one MoG prior run (shapes, not convergence)."""
    mog_q = [train(TrainConfig(posterior="mog", steps=150, seed=seed)) for seed in (0, 1)]
    mog_prior = train(TrainConfig(prior="mog", steps=150, seed=0))
    return {"MoG-VAE (MoG posterior)": mog_q, "MFG-VAE + MoG prior": [mog_prior]}


def every_figure(runs) -> dict:
    mog_q = runs["MoG-VAE (MoG posterior)"][0]
    history = mog_q.history.dropna(subset=["train_elbo"])
    return {
        "true decoder": figures.true_decoder_figure(),
        "true marginal": figures.true_marginal_figure(0.1, data_y=np.zeros(10)),
        "true heat map": figures.true_posterior_heatmap(0.1, n_y=21, n_z=21),
        "true slices": figures.true_posterior_slices(0.1),
        **figures.model_figures(mog_q),
        "live elbo": figures.live_elbo_figure(
            history["step"].to_numpy(), history[["train_elbo"]].to_numpy(), ["A: MoG-VAE"], 150
        ),
        "compare curves": figures.training_curves_figure(runs),
        "compare decoders": figures.compare_decoders_figure(runs),
        "compare generated": figures.compare_generated_figure(runs),
        "compare posteriors": figures.compare_posteriors_figure(runs),
        "snapshots": lf.decoder_snapshots_figure(mog_q),
        "animation": lf.decoder_animation_figure(mog_q),
        "live heat map": lf.truth_heatmap_figure(0.1, 0.1),
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
            assert all(len(line) <= figures.HOVER_WIDTH for line in lines[1:-1]), (name, lines)
            if trace.type != "heatmap" and "click" not in lines[0]:
                assert meaning in SENTENCES, (name, meaning)


def test_the_seeds_are_named_on_hover(runs):
    fig = figures.compare_decoders_figure(runs)
    seeds = [t.hovertemplate.split("<br>")[0] for t in fig.data if t.name.startswith("seed")]
    assert "<b>MoG-VAE (MoG posterior), seed 1</b>" in seeds


def test_exact_posterior_is_olive_and_dashed_in_the_result_figures(runs):
    def rgb(color):
        return np.array(plotly_colors.hex_to_rgb(color), dtype=float)

    for fig in (
        figures.posterior_figure(runs["MoG-VAE (MoG posterior)"][0]),
        figures.compare_posteriors_figure(runs),
    ):
        exact = [t for t in fig.data if "p_θ(z|y)" in t.name]
        assert exact and {t.line.color for t in exact} == {figures.EXACT_COLOR}
        assert {t.line.dash for t in exact} == {"dash"}
    for color in figures.MODEL_COLORS.values():
        assert np.linalg.norm(rgb(figures.EXACT_COLOR) - rgb(color)) > 100, color


def test_the_animation_starts_at_step_0_with_snapshots_denser_early():
    result = train(TrainConfig(steps=300, early_stop=False, seed=2))
    steps = np.asarray(result.snapshot_steps)
    assert steps[0] == 0 and steps[-1] == result.steps_run
    early = np.sum(steps < 0.1 * steps[-1])
    late = np.sum(steps >= 0.9 * steps[-1])
    assert early >= 3 * max(late, 1), steps  # log-spaced at first, then at each evaluation
    fig = lf.decoder_animation_figure(result)
    assert [frame.name for frame in fig.frames][0] == "0"
