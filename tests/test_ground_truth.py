"""The ground truth (docs/ground-truth.md): z ~ U(0, 1), y | z ~ N(f(z), σ²), exact by quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import N_STANDARD_ERRORS
from scipy import integrate

from vae_core import ground_truth
from vae_core.paper import SHOWN_Y_VALUES

NOISE_LEVELS = [0.01, 0.05, 0.1, 0.3]
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _normal_pdf(x, scale):
    return torch.exp(-0.5 * (x / scale) ** 2) / (scale * math.sqrt(2 * math.pi))


def test_f_values_and_range():
    z = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=torch.float64)
    expected = torch.tensor([0.25, 0.0, 0.25, 0.0, 0.25], dtype=torch.float64)
    torch.testing.assert_close(ground_truth.f(z), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ground_truth.f(z.numpy()), expected.numpy(), atol=1e-15)
    dense = ground_truth.f(torch.linspace(0, 1, 100001, dtype=torch.float64))
    assert dense.min() >= 0 and dense.max() <= 0.25


def test_sample_is_reproducible_and_has_the_right_moments():
    z, y = ground_truth.sample(200_000, 0.1, seed=3)
    z2, y2 = ground_truth.sample(200_000, 0.1, seed=3)
    assert torch.equal(z, z2) and torch.equal(y, y2)
    mean, std = ground_truth.marginal_moments(0.1)
    # E f(U) = ∫ (2z − 1/2)² over each half = 1/12; Var y = Var f(U) + σ², E f(U)² = 1/80.
    assert mean == pytest.approx(1 / 12, abs=1e-6)
    assert std == pytest.approx(math.sqrt(1 / 80 - 1 / 144 + 0.01), abs=1e-6)
    sample_mean, se = y.mean().item(), (y.std() / math.sqrt(y.numel())).item()
    assert abs(sample_mean - mean) < N_STANDARD_ERRORS * se
    # SE of a sample variance: sqrt((m4 − s⁴) / n), with the fourth central moment from the sample.
    centred = y - y.mean()
    var_se = math.sqrt(((centred**4).mean() - centred.var() ** 2).item() / y.numel())
    assert abs(centred.var().item() - std**2) < N_STANDARD_ERRORS * var_se


@pytest.mark.parametrize("noise_std", NOISE_LEVELS)
def test_marginal_integrates_to_one(noise_std):
    # p(y) has mass only within 10σ of f's range [0, 1/4]. It is a sum of Gaussians of width σ
    # (the midpoint rule in z), for which the trapezoid rule at spacing σ/20 is exact to ~1e-300.
    n_nodes = math.ceil((0.25 + 20 * noise_std) / (noise_std / 20)) + 1
    y = torch.linspace(-10 * noise_std, 0.25 + 10 * noise_std, n_nodes, dtype=torch.float64)
    mass = torch.trapezoid(torch.exp(ground_truth.log_marginal(y, noise_std)), y).item()
    assert mass == pytest.approx(1.0, abs=1e-3)


def _reference_log_marginal(y, noise_std, n_nodes=200_001):
    """log p(y) by an independent route: with v = f(z) = s², p(y) = ∫₀^½ 2 N(y; s², σ²) ds."""
    s = (torch.arange(n_nodes, dtype=torch.float64) + 0.5) / n_nodes * 0.5
    residual = y.reshape(-1, 1) - s**2
    log_integrand = -0.5 * (residual / noise_std) ** 2 - math.log(noise_std) - LOG_SQRT_2PI
    return torch.logsumexp(log_integrand, dim=1) + math.log(2 * 0.5 / n_nodes)


def _quadrature_error_bound(y, noise_std, spacing, rule="midpoint"):
    """Error bound for ∫₀¹ g(z) dz, g(z) = N(y; f(z), σ²), by the midpoint or trapezoid rule.

    Per smooth piece of length L: L h²/24 max|g''| (midpoint), L h²/12 max|g''| (trapezoid).
    f is smooth on [0, ½] and [½, 1] (½ is a cell boundary of both rules here). With
    r = y − f, g'' = g · [(r f'/σ²)² − f'²/σ² + r f''/σ²], f' = 4(2z − c), f'' = 8.
    """
    constant = {"midpoint": 1 / 24, "trapezoid": 1 / 12}[rule]
    bound = torch.zeros_like(y)
    for low, centre in ((0.0, 0.5), (0.5, 1.5)):
        z = torch.linspace(low, low + 0.5, 100_001, dtype=torch.float64)
        f = (2 * z - centre) ** 2
        fp, fpp = 4 * (2 * z - centre), 8.0
        r = y.reshape(-1, 1) - f
        g = _normal_pdf(r, noise_std)
        g2 = g * ((r * fp / noise_std**2) ** 2 - fp**2 / noise_std**2 + r * fpp / noise_std**2)
        # A max over a fine grid slightly underestimates the true max: 10% margin.
        bound += 0.5 * spacing**2 * constant * 1.1 * g2.abs().max(dim=1).values
    return bound


@pytest.mark.parametrize("noise_std", NOISE_LEVELS)
def test_log_marginal_matches_independent_quadrature_within_error_bound(noise_std):
    y = torch.linspace(-3 * noise_std, 0.25 + 3 * noise_std, 41, dtype=torch.float64)
    exact = _reference_log_marginal(y, noise_std)
    computed = ground_truth.log_marginal(y, noise_std)
    # The reference's own error (midpoint rule in s, 200k nodes) bounds the comparison, plus
    # the 1e-6 relative error log_marginal promises.
    bound = _quadrature_error_bound(y, noise_std, 0.5 / 200_001) / torch.exp(exact)
    tolerance = -torch.log1p(-bound) + 1e-6
    assert torch.all((computed - exact).abs() <= tolerance), (computed - exact).abs().max()


# (σ, y) far outside f's range too, where p(t | y) is a spike at an end of [0, ½] (y = 1 at
# σ = 0.01: 7e-5 wide) that a fixed grid misses.
EXTREME_CASES = [
    (0.005, -3.0),
    (0.01, -3.0),
    (0.01, 1.0),
    (0.01, 0.35),
    (0.03, 1.0),
    (0.1, 1.0),
    (0.01, 0.0),
    (0.01, 0.1),
    (0.01, 0.25),
    (0.005, 0.26),
]


@pytest.mark.parametrize(("noise_std", "y"), EXTREME_CASES)
def test_log_marginal_at_extreme_y_matches_adaptive_quadrature(noise_std, y):
    """Against scipy's adaptive Gauss–Kronrod rule, told where the spike is."""
    centre = min(max(y, 0.0), 0.25) ** 0.5
    exponent = lambda t: -0.5 * ((y - t * t) / noise_std) ** 2  # noqa: E731
    peak = exponent(centre)
    value, _ = integrate.quad(
        lambda t: math.exp(exponent(t) - peak), 0, 0.5, points=[centre], epsabs=0, epsrel=1e-12, limit=500
    )
    reference = math.log(2 * value) + peak - math.log(noise_std) - LOG_SQRT_2PI
    computed = ground_truth.log_marginal(torch.tensor([y], dtype=torch.float64), noise_std).item()
    # 1e-6 relative, except where p(y) is below e^-100 (no figure or metric uses such y).
    assert abs(computed - reference) < (1e-6 if reference > -100 else 1e-4), (computed, reference)


@pytest.mark.parametrize("noise_std", NOISE_LEVELS)
def test_grid_posterior_is_bayes_rule_and_integrates_to_one(noise_std):
    y = torch.tensor([-0.1, 0.0, 0.05, 0.1, 0.2, 0.25, 0.4], dtype=torch.float64)
    z_grid = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    posterior = ground_truth.posterior_grid(y, noise_std, z_grid)
    assert posterior.shape == (len(y), len(z_grid))
    assert torch.all(posterior >= 0)
    # Bayes' rule with an independent normaliser: p(z | y) = N(y; f(z), σ²) / p(y).
    likelihood = _normal_pdf(y.reshape(-1, 1) - ground_truth.f(z_grid), noise_std)
    log_p = _reference_log_marginal(y, noise_std)
    bayes = likelihood / torch.exp(log_p).reshape(-1, 1)
    bound = _quadrature_error_bound(y, noise_std, 0.5 / 200_001) / torch.exp(log_p)
    resolved = bayes > 1e-200
    ratio = torch.where(resolved, posterior / bayes, torch.ones_like(bayes))
    tolerance = (bound / (1 - bound) + 1e-6).reshape(-1, 1)
    assert torch.all((ratio - 1).abs() <= tolerance), (ratio - 1).abs().max(dim=1)
    # Pointwise exact, so on this fine grid the trapezoid rule integrates it to 1.
    spacing = (z_grid[1] - z_grid[0]).item()
    relative = _quadrature_error_bound(y, noise_std, spacing, "trapezoid") / torch.exp(log_p)
    torch.testing.assert_close(
        torch.trapezoid(posterior, z_grid, dim=1),
        torch.ones(len(y), dtype=torch.float64),
        rtol=0,
        atol=relative.max().item() + 1e-6,
    )


def test_grid_posterior_is_zero_outside_the_unit_interval():
    z_grid = torch.linspace(-0.5, 1.5, 40001, dtype=torch.float64)
    posterior = ground_truth.posterior_grid(torch.tensor([0.1]), 0.05, z_grid)
    outside = (z_grid < 0) | (z_grid > 1)
    assert torch.all(posterior[:, outside] == 0)
    # The posterior is cut off at z = 0 and 1: the trapezoid rule is O(h²) there.
    assert torch.trapezoid(posterior, z_grid, dim=1).item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("y", [*SHOWN_Y_VALUES, 0.35])
def test_posterior_slices_reach_their_true_peak_at_small_noise(y):
    """At σ = 0.01 every drawn slice must show its modes at their true height (within 1 %)."""
    noise_std = 0.01
    z = ground_truth.posterior_z_nodes([y], noise_std)
    drawn = ground_truth.posterior_grid([y], noise_std, z)[0]
    # The mode: where f(z) is nearest y; its height N(y; f(z*), σ²) / p(y), p(y) independent.
    f_mode = min(max(y, 0.0), 0.25)
    centre = f_mode**0.5
    exponent = lambda t: -0.5 * ((y - t * t) / noise_std) ** 2  # noqa: E731
    peak = exponent(centre)
    value, _ = integrate.quad(
        lambda t: math.exp(exponent(t) - peak), 0, 0.5, points=[centre], epsabs=0, epsrel=1e-12, limit=500
    )
    height = 1.0 / (2 * value)  # N(y; f*, σ²) / (2 ∫ N dt), the exponents' peak cancelling
    assert drawn.max().item() == pytest.approx(height, rel=0.01)


def test_information_of_the_truth_against_a_dense_grid():
    """I(z; y) over a few y, against a plain sum on a 2-million-node z-grid."""
    noise_std = 0.03
    y = torch.tensor(SHOWN_Y_VALUES, dtype=torch.float64)
    z = (torch.arange(2_000_000, dtype=torch.float64) + 0.5) / 2_000_000
    posterior = ground_truth.posterior_grid(y, noise_std, z)
    aggregate = posterior.mean(dim=0, keepdim=True)
    ratio = torch.where(posterior > 0, posterior / aggregate, torch.ones_like(posterior))
    dense = (posterior * torch.log(ratio)).mean(dim=1).mean().item()
    assert ground_truth.information(y, noise_std) == pytest.approx(dense, abs=1e-4)


def test_ground_truth_posterior_has_four_modes():
    # f(z) = 0.1 at z = (½ ± √0.1)/2 and (3/2 ± √0.1)/2: four equally likely preimages.
    z_grid = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    density = ground_truth.posterior_grid(torch.tensor([0.1]), 0.05, z_grid)[0]
    interior = density[1:-1]
    is_max = (interior > density[:-2]) & (interior > density[2:])
    modes = z_grid[1:-1][is_max]
    assert len(modes) == 4, modes
    root = math.sqrt(0.1)
    expected = torch.tensor([(0.5 - root) / 2, (0.5 + root) / 2, (1.5 - root) / 2, (1.5 + root) / 2])
    spacing = (z_grid[1] - z_grid[0]).item()
    torch.testing.assert_close(modes, expected.double(), rtol=0, atol=spacing)


def test_quantiles_of_f_match_empirical_quantiles():
    n = 1_000_000
    generator = np.random.default_rng(11)
    values = ground_truth.f(generator.random(n))
    levels = np.linspace(0.01, 0.99, 99)
    claimed = ground_truth.quantiles_of_f(levels)
    empirical = np.quantile(values, levels)
    # SE of a sample quantile: sqrt(t(1 − t)/n) / density(q); f(U) has density 1/√v on (0, ¼].
    density = 1.0 / np.sqrt(claimed)
    se = np.sqrt(levels * (1 - levels) / n) / density
    assert np.all(np.abs(empirical - claimed) < N_STANDARD_ERRORS * se)
    # And the endpoints exactly: f(U) ranges over [0, ¼].
    np.testing.assert_allclose(ground_truth.quantiles_of_f([0.0, 1.0]), [0.0, 0.25], atol=0)
    assert np.all(np.diff(ground_truth.quantiles_of_f(np.linspace(0, 1, 101))) > 0)
