"""Equal-weight Gaussian mixtures (priors and posteriors) against torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import N_STANDARD_ERRORS, mean_with_se
from torch import distributions as td

from vae_core.distributions import (
    POSTERIOR_SCALE_BOUNDS,
    PRIOR_SCALE_BOUNDS,
    EqualWeightMixture,
    MixturePrior,
    StandardNormalPrior,
    bounded_scale,
    make_prior,
    normal_log_prob,
    raw_for_scale,
)


def _random_mixture(batch_shape, n_components, seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    locs = 2 * torch.randn((*batch_shape, n_components), generator=generator, dtype=dtype)
    scales = torch.exp(torch.randn((*batch_shape, n_components), generator=generator, dtype=dtype))
    return EqualWeightMixture(locs, scales)


def _torch_mixture(mixture: EqualWeightMixture) -> td.MixtureSameFamily:
    weights = torch.ones_like(mixture.locs)
    return td.MixtureSameFamily(td.Categorical(probs=weights), td.Normal(mixture.locs, mixture.scales))


def test_normal_log_prob_matches_torch():
    generator = torch.Generator().manual_seed(1)
    x = 5 * torch.randn(1000, generator=generator, dtype=torch.float64)
    loc = torch.randn(1000, generator=generator, dtype=torch.float64)
    scale = torch.exp(2 * torch.randn(1000, generator=generator, dtype=torch.float64))
    torch.testing.assert_close(
        normal_log_prob(x, loc, scale), td.Normal(loc, scale).log_prob(x), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("n_components", [1, 3, 10])
@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 5)])
def test_mixture_log_prob_and_cdf_match_mixture_same_family(batch_shape, n_components):
    mixture = _random_mixture(batch_shape, n_components)
    reference = _torch_mixture(mixture)
    z = 4 * torch.randn((*batch_shape, 7), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    # MixtureSameFamily wants the sample dimension first: (K, *batch).
    z_first = z.movedim(-1, 0)
    assert mixture.log_prob(z).shape == z.shape
    torch.testing.assert_close(
        mixture.log_prob(z), reference.log_prob(z_first).movedim(0, -1), rtol=1e-12, atol=1e-12
    )
    torch.testing.assert_close(mixture.cdf(z), reference.cdf(z_first).movedim(0, -1), rtol=1e-12, atol=1e-12)


def test_mixture_log_prob_is_finite_far_in_the_tails():
    mixture = EqualWeightMixture(torch.tensor([[-1.0, 2.0]]), torch.tensor([[1e-3, 0.5]]))
    values = mixture.log_prob(torch.tensor([[-1e4, 0.0, 1e4]]))
    assert torch.all(torch.isfinite(values))


def test_sample_is_the_uniform_mixture():
    # z ~ mixture: component uniform, then Normal. Check E z and E z² with their standard errors.
    mixture = _random_mixture((3,), 4, seed=5)
    samples = mixture.sample(400_000, generator=torch.Generator().manual_seed(6))
    assert samples.shape == (3, 400_000)
    exact_mean = mixture.locs.mean(-1)
    exact_second = (mixture.locs**2 + mixture.scales**2).mean(-1)
    for member in range(3):
        for values, exact in ((samples[member], exact_mean), (samples[member] ** 2, exact_second)):
            estimate, se = mean_with_se(values.numpy())
            assert abs(estimate - exact[member].item()) < N_STANDARD_ERRORS * se


def test_rsample_stratified_assigns_sample_k_to_component_k_mod_m():
    mixture = EqualWeightMixture(torch.tensor([[0.0, 10.0, 20.0]]), torch.tensor([[1.0, 2.0, 3.0]]))
    noise = torch.ones(1, 6)
    z = mixture.rsample_stratified(noise)
    torch.testing.assert_close(z, torch.tensor([[1.0, 12.0, 23.0, 1.0, 12.0, 23.0]]))


def test_stratified_estimator_is_unbiased_with_correct_gradients():
    # E_q[z²] = mean_i (μᵢ² + σᵢ²), ∂/∂μᵢ = 2μᵢ/M, ∂/∂σᵢ = 2σᵢ/M. The stratified estimate of each,
    # one reparameterised draw per component and replicate, is checked at 5 standard errors.
    m, replicates = 5, 20_000
    base = _random_mixture((), m, seed=7)
    # One copy of the parameters per replicate: the gradient of the summed estimates with respect
    # to copy j is replicate j's own gradient, so one backward pass gives all of them.
    locs = base.locs.expand(replicates, m).clone().requires_grad_(True)
    scales = base.scales.expand(replicates, m).clone().requires_grad_(True)
    noise = torch.randn(replicates, m, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    per_replicate = (EqualWeightMixture(locs, scales).rsample_stratified(noise) ** 2).mean(-1)
    per_replicate.sum().backward()

    estimate, se = mean_with_se(per_replicate.detach().numpy())
    exact = ((base.locs**2 + base.scales**2).mean()).item()
    assert abs(estimate - exact) < N_STANDARD_ERRORS * se
    for gradients, exact_gradient in (
        (locs.grad, 2 * base.locs / m),
        (scales.grad, 2 * base.scales / m),
    ):
        means = gradients.mean(0)
        ses = gradients.std(0) / math.sqrt(replicates)
        assert torch.all((means - exact_gradient).abs() < N_STANDARD_ERRORS * ses)


def test_stratified_elbo_agrees_with_brute_force_monte_carlo():
    """The stratified estimator (docs/elbo.md) for a MoG q agrees in expectation with plain Monte Carlo."""
    generator = torch.Generator().manual_seed(9)
    m, replicates, n_plain = 10, 30_000, 300_000
    posterior = _random_mixture((), m, seed=10)
    prior = EqualWeightMixture(
        torch.tensor([0.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
    )
    y, noise_std = 0.2, 0.1

    def terms(z):  # log p(y|z) + log p(z) − log q(z|y) with decoder f(z) = z²/4
        log_lik = normal_log_prob(
            torch.tensor(y, dtype=torch.float64),
            z**2 / 4,
            torch.tensor(noise_std, dtype=torch.float64),
        )
        return (
            log_lik
            + prior.log_prob(z.unsqueeze(-1)).squeeze(-1)
            - posterior.log_prob(z.unsqueeze(-1)).squeeze(-1)
        )

    stratified_q = EqualWeightMixture(
        posterior.locs.expand(replicates, m), posterior.scales.expand(replicates, m)
    )
    noise = torch.randn(replicates, m, generator=generator, dtype=torch.float64)
    stratified = terms(stratified_q.rsample_stratified(noise)).mean(-1)  # one estimate per replicate
    plain = terms(posterior.sample(n_plain, generator=generator))
    stratified_mean, stratified_se = mean_with_se(stratified.numpy())
    plain_mean, plain_se = mean_with_se(plain.numpy())
    difference_se = math.hypot(stratified_se, plain_se)
    assert abs(stratified_mean - plain_mean) < N_STANDARD_ERRORS * difference_se


@pytest.mark.parametrize("bounds", [POSTERIOR_SCALE_BOUNDS, PRIOR_SCALE_BOUNDS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bounded_scale_stays_within_bounds_and_finite(bounds, dtype):
    raw = torch.tensor([-1e4, -1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3, 1e4], dtype=dtype, requires_grad=True)
    scale = bounded_scale(raw, bounds)
    assert torch.all(torch.isfinite(scale))
    # exp(log bound) is the bound up to a few units of rounding of the dtype.
    slack = 8 * torch.finfo(dtype).eps
    assert torch.all(scale >= bounds[0] * (1 - slack)) and torch.all(scale <= bounds[1] * (1 + slack))
    assert torch.all(scale[1:] >= scale[:-1])  # monotone
    scale.sum().backward()
    assert torch.all(torch.isfinite(raw.grad))


@pytest.mark.parametrize("bounds", [POSTERIOR_SCALE_BOUNDS, PRIOR_SCALE_BOUNDS])
def test_raw_for_scale_inverts_bounded_scale(bounds):
    for target in (0.02, 0.5, 1.0, 3.0, 9.0):
        raw = raw_for_scale(target, bounds)
        assert bounded_scale(torch.tensor(raw, dtype=torch.float64), bounds).item() == pytest.approx(
            target, rel=1e-10
        )


def test_support_holds_the_mass():
    mixture = _random_mixture((2,), 4, seed=12)
    low, high = mixture.support()
    mass_outside = (
        mixture.cdf(torch.full((2, 1), low, dtype=torch.float64))
        + 1
        - mixture.cdf(torch.full((2, 1), high, dtype=torch.float64))
    )
    assert torch.all(mass_outside < 1e-14)


def test_priors_have_the_right_shapes_and_values():
    standard = make_prior("gaussian", n_members=3, n_components=10)
    assert isinstance(standard, StandardNormalPrior)
    assert list(standard.parameters()) == []
    prior = standard()
    assert prior.locs.shape == (3, 1) and torch.all(prior.locs == 0) and torch.all(prior.scales == 1)
    mixture = make_prior("mog", n_members=3, n_components=10)
    assert isinstance(mixture, MixturePrior) and mixture().locs.shape == (3, 10)
    with pytest.raises(ValueError):
        make_prior("flow", 1, 10)
