"""The encoder view (vae_core/plots/encoder.py): q(z|y)'s moments and the exact p_θ(z|y)'s, each
against an independent quadrature, and the figure's curves for a Gaussian and a mixture q."""

import numpy as np
import pytest
import torch

from vae_core import cache, exact
from vae_core.config import TrainConfig
from vae_core.plots import encoder

Y = np.array([-0.05, 0.0, 0.1, 0.2, 0.3])


@pytest.fixture(scope="module")
def mixture_run():
    return cache.lookup(TrainConfig(prior="gaussian", posterior="mog", seed=3), [cache.presets_dir()])


@pytest.fixture(scope="module")
def gaussian_run():
    return cache.lookup(TrainConfig(), [cache.presets_dir()])


def moments_by_quadrature(density: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of densities (rows) on a uniform grid, by the trapezoid rule."""
    mass = np.trapezoid(density, z, axis=-1)
    mean = np.trapezoid(density * z, z, axis=-1) / mass
    second = np.trapezoid(density * z**2, z, axis=-1) / mass
    return mean, np.sqrt(second - mean**2)


def test_q_moments_are_the_mixture_moments(mixture_run):
    mean, std, component_means = encoder.q_moments(mixture_run.model, Y)
    assert component_means.shape == (len(Y), mixture_run.config.n_components)
    # q's density on a grid far wider than every component (float32 densities: 1e-5 relative).
    z = np.linspace(-15, 15, 60001)
    density = mixture_run.model.posterior_density(torch.as_tensor(Y), z)[0].numpy()
    expected_mean, expected_std = moments_by_quadrature(density, z)
    np.testing.assert_allclose(mean, expected_mean, atol=1e-4)
    np.testing.assert_allclose(std, expected_std, rtol=1e-4)


@pytest.mark.parametrize("run", ["mixture_run", "gaussian_run"])
def test_exact_posterior_moments_match_a_wide_fine_grid(run, request):
    model = request.getfixturevalue(run).model
    mean, std = encoder.exact_posterior_moments(model, Y)
    z = np.linspace(-20, 20, 200001)
    density = exact.posterior(model, torch.as_tensor(Y), z)[0].numpy()
    expected_mean, expected_std = moments_by_quadrature(density, z)
    np.testing.assert_allclose(mean, expected_mean, atol=1e-5)
    np.testing.assert_allclose(std, expected_std, rtol=1e-5)


def test_the_figure_draws_q_its_components_and_the_exact_posterior(mixture_run, gaussian_run):
    names = {trace.name for trace in encoder.encoder_figure(mixture_run).data}
    assert {"exact p_θ(z|y)", "q(z|y): mean", "q(z|y): component means"} <= names
    gaussian = encoder.encoder_figure(gaussian_run)
    assert "q(z|y): component means" not in {trace.name for trace in gaussian.data}
    heatmap = gaussian.data[0]
    assert heatmap.type == "heatmap" and np.all(np.isfinite(heatmap.z))
    # The z-range holds the exact posterior's mass at every y shown.
    assert heatmap.z.shape == (encoder.ENCODER_Z_POINTS, encoder.ENCODER_Y_POINTS)
    column_mass = np.trapezoid(np.asarray(heatmap.z), np.asarray(heatmap.y), axis=0)
    assert column_mass.min() > 1 - 2 * encoder.ENCODER_Z_TAIL
