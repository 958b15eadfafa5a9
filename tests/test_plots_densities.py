"""The densities the figures draw beyond the model's own (vae_core.plots.densities), checked
against exact values: a mixture's components must add up to it, an aggregate posterior must
integrate to 1, and an encoder forced to a fixed q(z|y) must give that q as its aggregate.
Tolerances: float32 densities (~1e-6 relative) and the trapezoid rule on the grids used (errors
far below 1e-4 at these spacings).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import COMBINATION_IDS, COMBINATIONS, fixed_posterior_model, normal_pdf

from vae_core import ground_truth
from vae_core.plots import densities


@pytest.mark.parametrize("combo", COMBINATIONS, ids=COMBINATION_IDS)
def test_aggregate_posterior_integrates_to_one(short_runs, combo):
    model = short_runs[combo].model
    low, high = model.prior_distribution().support()
    z = np.linspace(min(low, -12), max(high, 12), 12001)
    aggregate = densities.aggregate_posterior(model, short_runs[combo].config.noise_std, z)
    assert np.all(aggregate >= 0)
    assert np.trapezoid(aggregate, z) == pytest.approx(1.0, abs=1e-4)


def test_aggregate_of_an_encoder_that_ignores_y_is_its_q():
    """q(z|y) = N(0.4, 0.3²) for every y ⇒ E_y q(z|y) = N(0.4, 0.3²) whatever p(y) is."""
    model, config = fixed_posterior_model([0.4], 0.3)
    z = np.linspace(-2, 3, 501)
    aggregate = densities.aggregate_posterior(model, config.noise_std, z)
    np.testing.assert_allclose(aggregate, normal_pdf(z, 0.4, 0.3), rtol=1e-5, atol=1e-6)


def test_aggregate_weights_are_the_true_p_y():
    """The quadrature weights average a function of y under p(y): E[y] must be exact."""
    for noise_std in (0.1, 0.03):
        y, weights = densities.aggregate_weights(noise_std)
        mean, std = ground_truth.marginal_moments(noise_std)
        assert weights.sum() == pytest.approx(1.0)
        assert weights @ y == pytest.approx(mean, abs=1e-5)
        assert math.sqrt(weights @ (y - mean) ** 2) == pytest.approx(std, rel=1e-4)


@pytest.mark.parametrize("combo", COMBINATIONS, ids=COMBINATION_IDS)
def test_mixture_components_add_up_to_the_mixture(short_runs, combo):
    model = short_runs[combo].model
    z = np.linspace(-4, 4, 301)
    prior_parts = densities.prior_components(model, z)
    assert prior_parts.shape == (model.prior_distribution().n_components, z.size)
    np.testing.assert_allclose(
        prior_parts.sum(axis=0), model.prior_density(z)[0].numpy(), rtol=1e-5, atol=1e-7
    )
    for y in (0.1, -3.0):
        parts = densities.posterior_components(model, y, z)
        assert parts.shape[0] == model.posterior_components
        np.testing.assert_allclose(
            parts.sum(axis=0), model.posterior_density([y], z)[0, 0].numpy(), rtol=1e-5, atol=1e-7
        )
