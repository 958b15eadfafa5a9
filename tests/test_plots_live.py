"""The live view's figures and the quantities behind them (vae_core.plots.live): mode counting,
the modes sentence, the cached ground truth, the A/B overlay and the chosen y."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import fixed_posterior_model, normal_pdf

from vae_core import ground_truth
from vae_core.plots import live, ranges
from vae_core.plots.style import PINNED_DASH

# ----- mode counting ---------------------------------------------------------------------------


Z = np.linspace(-6, 6, 2401)


def test_one_gaussian_has_one_mode():
    assert live.count_modes(normal_pdf(Z, 0.3, 0.7)) == 1


def test_two_separated_gaussians_have_two_modes():
    density = 0.5 * normal_pdf(Z, -2, 0.5) + 0.5 * normal_pdf(Z, 2, 0.5)
    assert live.count_modes(density) == 2


def test_two_gaussians_closer_than_two_scales_are_one_mode():
    # An equal mixture of N(±d, 1) is unimodal exactly when d ≤ 1.
    assert live.count_modes(0.5 * normal_pdf(Z, -0.9, 1) + 0.5 * normal_pdf(Z, 0.9, 1)) == 1
    assert live.count_modes(0.5 * normal_pdf(Z, -1.6, 1) + 0.5 * normal_pdf(Z, 1.6, 1)) == 2


def test_a_negligible_bump_and_a_plateau_do_not_count():
    density = normal_pdf(Z, 0, 0.5) + 0.01 * normal_pdf(Z, 4, 0.2)  # bump at 2.5% of the peak
    assert live.count_modes(density) == 1
    flat_top = np.minimum(normal_pdf(Z, 0, 1), 0.3)
    assert live.count_modes(flat_top) == 1
    assert live.count_modes(np.zeros(10)) == 0
    assert live.count_modes([]) == 0


def test_the_true_posterior_has_four_modes_inside_the_data():
    """y = 0.1 at σ = 0.01: four separate preimages of y under f (docs/ground-truth.md)."""
    assert live.count_modes(live.true_posterior_cells(0.01, 0.1)) == 4
    assert live.count_modes(live.true_posterior_cells(0.01, -3.0)) == 2  # z = 1/4 and 3/4


@pytest.mark.parametrize("locs, expected", [([0.0, 0.05, -0.05], 1), ([-2.0, 0.0, 2.0], 3)])
def test_posterior_modes_of_a_mixture_posterior(locs, expected):
    model, config = fixed_posterior_model(locs, 0.3)
    modes = live.posterior_modes(model, config, 0.1)
    assert (modes.components, modes.q_modes) == (3, expected)
    sentence = modes.sentence()
    assert "y = 0.1" in sentence
    if expected == 1:
        assert "stays single-peaked" in sentence
    else:
        assert "has 3 peaks (from 3 components)" in sentence


def test_posterior_modes_sentence_for_a_gaussian_posterior():
    text = live.PosteriorModes(y=0.2, components=1, q_modes=1, exact_modes=2, true_modes=4).sentence()
    assert "single Gaussian" in text and "2 peaks" in text and "4 peaks" in text


# ----- the cached ground truth and the run drawn -----------------------------------------------


def test_true_marginal_on_the_live_grid_holds_its_mass():
    for noise_std in (0.2, 0.1, 0.01):
        grid, density = live.true_marginal(noise_std)
        # Outside f's range ± 4σ lies ~6e-5 of p(y); the midpoint/trapezoid error is far below it.
        assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=2e-4)


def test_model_from_state_restores_the_weights(short_runs):
    result = short_runs[("mog", "mog")]
    state = {k: v.numpy() for k, v in result.model.state_dict().items()}
    restored = live.model_from_state(result.config, state)
    z = torch.linspace(-2, 2, 50).unsqueeze(0)
    assert torch.equal(restored.decode(z), result.model.decode(z))


# ----- figures -----------------------------------------------------------------------------


def traces(fig):
    return list(fig.data)


def test_every_curve_says_what_it_means(short_runs):
    runs = [live.shown_result(short_runs[("mog", "mog")])]
    for name, fig in live.live_figures(runs, 0.1).items():
        for trace in traces(fig):
            assert trace.hovertemplate and len(trace.hovertemplate) > 40, (name, trace.name)
            meaning = " ".join(trace.hovertemplate.split("<br>")[1:-1])  # wrapped on short lines
            assert meaning.endswith("."), meaning  # one whole sentence


def test_a_b_overlay_names_both_runs(short_runs):
    current = live.shown_result(short_runs[("mog", "gaussian")])
    pinned = live.shown_result(short_runs[("gaussian", "gaussian")], pinned=True)
    assert current.label.startswith("A: MFG-VAE + MoG prior") and pinned.label.startswith("B: MFG-VAE")
    assert current.short_label == "A: MFG-VAE + MoG prior, seed 3"
    for fig in live.live_figures([current, pinned], 0.1).values():
        names = " ".join(t.name for t in traces(fig) if t.showlegend is not False)
        assert current.label in names and pinned.label in names, fig.layout.title.text
        dashes = {t.line.dash for t in traces(fig) if t.name and pinned.label in t.name}
        assert dashes == {PINNED_DASH}


def test_posterior_figure_draws_the_mixture_components(short_runs):
    result = short_runs[("gaussian", "mog")]
    fig = live.posterior_live_figure([live.shown_result(result)], 0.2)
    components = [t for t in traces(fig) if t.name.startswith("q's components")]
    assert len(components) == result.config.n_components
    assert [t.showlegend for t in components].count(True) == 1
    z = np.asarray(components[0].x)
    q = next(t for t in traces(fig) if t.name.startswith("q(z|y)"))
    np.testing.assert_allclose(
        np.sum([np.asarray(t.y) for t in components], axis=0), np.asarray(q.y), rtol=1e-5, atol=1e-7
    )
    assert np.array_equal(np.asarray(q.x), z)


def test_the_chosen_y_is_marked_on_p_y_and_on_the_heat_map(short_runs):
    runs = [live.shown_result(short_runs[("gaussian", "gaussian")])]
    for fig in (live.marginal_live_figure(runs, 0.13), live.truth_heatmap_figure(0.1, 0.13)):
        assert [shape.x0 for shape in fig.layout.shapes] == [0.13]
        assert any(a.text == "y = 0.13" for a in fig.layout.annotations)
    off = live.marginal_live_figure(runs, -3.0)
    assert not off.layout.shapes
    assert any("off to the left" in a.text for a in off.layout.annotations)


def test_heat_map_is_the_exact_posterior():
    fig = live.truth_heatmap_figure(0.05)
    table = np.asarray(fig.data[0].z)
    columns = ground_truth.posterior_grid(ranges.HEATMAP_Y[[10, 90]], 0.05, ranges.HEATMAP_Z).numpy()
    np.testing.assert_allclose(table[:, [10, 90]], columns.T, rtol=1e-12)
