"""The model's exact quantities by quadrature (docs/diagnostics.md) against Monte Carlo and identities.

Every check runs for the four prior × posterior combinations, untrained and trained (default
TrainConfig, shared with test_training.py through the `default_results` fixture).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import (
    COMBINATION_IDS,
    COMBINATIONS,
    N_STANDARD_ERRORS,
    log_mean_exp_with_se,
    mean_with_se,
)

from vae_core import exact, metrics
from vae_core.distributions import (
    PRIOR_SCALE_BOUNDS,
    EqualWeightMixture,
    normal_log_prob,
    raw_for_scale,
)
from vae_core.model import VAE

NOISE_STD = 0.1
MC_SAMPLES = 200_000
ELBO_REPLICATES = 4000
# Quadrature error of log_marginal on the model's grid (spacing ≤ half the narrowest feature:
# trapezoid error ~exp(−2π²·4) ≈ 1e-34) is dwarfed by float32 decoder rounding: f_φ has
# relative error ~1e-7, so log N(y; f_φ, σ²) is off by ~|y − f_φ| · 1e-7 / σ² ≲ 1e-5.
QUADRATURE_TOLERANCE = 1e-5


def _untrained(prior, posterior, seed=3):
    model = VAE(prior, posterior, n_components=10, hidden=50, noise_std=NOISE_STD)
    model.reset_member(0, seed)
    return model


@pytest.fixture(
    params=[(c, state) for c in COMBINATIONS for state in ("untrained", "trained")],
    ids=[f"{i}-{state}" for i in COMBINATION_IDS for state in ("untrained", "trained")],
)
def model(request, default_results):
    (prior, posterior), state = request.param
    if state == "untrained":
        return _untrained(prior, posterior)
    return default_results[(prior, posterior)].model


def _test_points(model):
    """y where the model puts its mass (its own samples) plus a few in the data's range."""
    own = model.sample_y(4, seed=1)[0]
    return torch.cat([own, torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64)])


def test_log_marginal_matches_monte_carlo(model):
    """log p_θ(y) = log E_{z ~ p(z)} N(y; f_φ(z), σ²): logmeanexp of 200k prior draws."""
    y = _test_points(model)
    quadrature = exact.log_marginal(model, y)[0]
    assert quadrature.shape == y.shape and torch.all(torch.isfinite(quadrature))
    z = model.prior_distribution().sample(MC_SAMPLES, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        decoded = model.decode(z).double()[0]
    for index, value in enumerate(y.tolist()):
        log_weights = normal_log_prob(
            torch.tensor(value, dtype=torch.float64),
            decoded,
            torch.tensor(NOISE_STD, dtype=torch.float64),
        )
        estimate, se = log_mean_exp_with_se(log_weights)
        assert abs(quadrature[index].item() - estimate) < N_STANDARD_ERRORS * se + QUADRATURE_TOLERANCE, (
            value,
            quadrature[index].item(),
            estimate,
            se,
        )


def test_exact_posterior_integrates_to_one(model):
    y = _test_points(model)
    grid, spacing = exact.latent_grid(model)
    # On the model's own grid, with the rule log_marginal uses: exact up to rounding.
    density = exact.posterior(model, y, grid)[0]
    assert torch.all(density >= 0)
    torch.testing.assert_close(
        density.sum(-1) * spacing, torch.ones(len(y), dtype=torch.float64), rtol=0, atol=1e-9
    )
    # On an independent, offset and 1.7x finer grid with the trapezoid rule: the normaliser
    # (log_marginal on the model grid) must be right to quadrature precision.
    finer = torch.linspace(
        grid[0].item() + 0.3 * spacing,
        grid[-1].item() - 0.3 * spacing,
        int(1.7 * len(grid)),
        dtype=torch.float64,
    )
    density = exact.posterior(model, y, finer)[0]
    torch.testing.assert_close(
        torch.trapezoid(density, finer, dim=-1),
        torch.ones(len(y), dtype=torch.float64),
        rtol=0,
        atol=QUADRATURE_TOLERANCE,
    )


def _elbo_replicates(model, y, replicates=ELBO_REPLICATES, seed=4):
    """Independent stratified ELBO estimates (one z per posterior component each): (len(y), R)."""
    generator = torch.Generator().manual_seed(seed)
    repeated = y.float().repeat_interleave(replicates).unsqueeze(0)
    noise = torch.randn((*repeated.shape, model.samples_per_y(1)), generator=generator)
    with torch.no_grad():
        return model.elbo(repeated, noise).double().reshape(len(y), replicates)


def test_elbo_is_below_log_marginal_by_the_exact_kl(model):
    """ELBO(y) = log p_θ(y) − KL(q(z|y) ‖ p_θ(z|y)) ≤ log p_θ(y), per y and on average.

    The KL is computed by quadrature on a grid fine enough for q (spacing ≤ a quarter of its
    narrowest component) and p_θ(z|y); the ELBO by Monte Carlo, with its standard error.
    """
    y = _test_points(model)
    log_marginal = exact.log_marginal(model, y)[0]
    replicates = _elbo_replicates(model, y)
    per_y = [mean_with_se(row) for row in replicates.numpy()]

    posterior = model.posterior(y.float().unsqueeze(0))
    locs, scales = posterior.locs.double(), posterior.scales.double()
    low = min((locs - 10 * scales).min().item(), exact.latent_grid(model)[0][0].item())
    high = max((locs + 10 * scales).max().item(), exact.latent_grid(model)[0][-1].item())
    spacing = min(scales.min().item() / 4, exact.latent_grid(model)[1])
    grid = torch.linspace(low, high, math.ceil((high - low) / spacing) + 1, dtype=torch.float64)
    log_q = EqualWeightMixture(locs[0], scales[0]).log_prob(grid.expand(len(y), -1))
    log_exact = torch.log(exact.posterior(model, y, grid)[0])
    q = torch.exp(log_q)
    kl = torch.trapezoid(torch.where(q > 0, q * (log_q - log_exact), torch.zeros_like(q)), grid, dim=-1)

    for index, (elbo, se) in enumerate(per_y):
        assert elbo <= log_marginal[index].item() + N_STANDARD_ERRORS * se
        gap = log_marginal[index].item() - elbo
        # Tolerance: MC error of the ELBO, plus float32 rounding of the network terms (~1e-5
        # relative to each of |log p(y|z)|, |log q|: these are O(10) here).
        assert abs(gap - kl[index].item()) < N_STANDARD_ERRORS * se + 1e-4, (
            y[index].item(),
            gap,
            kl[index].item(),
            se,
        )

    mean_elbo, mean_se = mean_with_se(replicates.mean(0).numpy())
    assert mean_elbo <= log_marginal.mean().item() + N_STANDARD_ERRORS * mean_se


def test_many_samples_per_component_estimate_the_same_elbo_reproducibly(model):
    """The training estimator (VAE.elbo) with K z per posterior component (samples_per_component)
    is a function of y and ε alone, and agrees with replicates of one z per component."""
    y = _test_points(model)
    generator = torch.Generator().manual_seed(7)
    noise = torch.randn((1, len(y), model.samples_per_y(500)), generator=generator)
    with torch.no_grad():
        first = model.elbo(y.float().unsqueeze(0), noise).double()
        assert first.shape == (1, len(y))
        assert torch.equal(first, model.elbo(y.float().unsqueeze(0), noise.clone()).double())
    replicates = _elbo_replicates(model, y)
    for index, row in enumerate(replicates.numpy()):
        mean, se = mean_with_se(row)
        # 500 draws per component vs 4000 replicates of one: both estimate the same ELBO(y).
        combined_se = math.hypot(se, se * math.sqrt(ELBO_REPLICATES / 500))
        assert abs(first[0, index].item() - mean) < N_STANDARD_ERRORS * combined_se


def test_posterior_and_prior_densities_integrate_to_one(model):
    y = _test_points(model)
    posterior = model.posterior(y.float().unsqueeze(0))
    low = (posterior.locs - 12 * posterior.scales).min().item()
    high = (posterior.locs + 12 * posterior.scales).max().item()
    spacing = posterior.scales.min().item() / 4
    grid = torch.linspace(low, high, math.ceil((high - low) / spacing) + 1, dtype=torch.float64)
    q = model.posterior_density(y, grid)[0]
    # float32 densities: rounding ~1e-6 relative.
    torch.testing.assert_close(
        torch.trapezoid(q, grid, dim=-1), torch.ones(len(y), dtype=torch.float64), rtol=0, atol=1e-5
    )
    grid, _ = exact.latent_grid(model)
    prior_mass = torch.trapezoid(model.prior_density(grid)[0], grid).item()
    assert prior_mass == pytest.approx(1.0, abs=1e-5)


# ----- prior quantiles and the aligned decoder ---------------------------------------------

LEVELS = np.linspace(0.0005, 0.9995, 1999)
# prior_quantile promises an error of ~1e-5 in u; QUANTILE_LEVELS in metrics are 5e-4 apart.
QUANTILE_TOLERANCE = 2e-5


def _cdf_error(model, levels=LEVELS):
    prior = model.prior_distribution()
    quantiles = model.prior_quantile(levels)
    assert quantiles.shape == (model.n_members, len(levels))
    assert torch.all(torch.diff(quantiles, dim=-1) >= 0)
    cdf = EqualWeightMixture(prior.locs.double(), prior.scales.double()).cdf(quantiles.double())
    return (cdf - torch.as_tensor(levels)).abs().max().item()


def test_prior_quantile_inverts_the_prior_cdf(model):
    assert _cdf_error(model) < QUANTILE_TOLERANCE


def test_prior_quantile_of_the_standard_normal():
    model = _untrained("gaussian", "gaussian")
    levels = torch.as_tensor(LEVELS)
    expected = torch.distributions.Normal(0.0, 1.0).icdf(levels.double())
    # Inverse of an error ε in u: ε / φ(z), φ ≥ φ(3.3) ≈ 1.7e-3 at these levels.
    torch.testing.assert_close(
        model.prior_quantile(LEVELS)[0], expected, rtol=0, atol=QUANTILE_TOLERANCE / 1.7e-3
    )


@pytest.mark.parametrize("widest", [0.5, 2.0, 9.9])
def test_prior_quantile_with_narrow_and_wide_components(widest):
    """Every allowed prior: components from the scale floor (0.01) to near the ceiling (10)."""
    model = _untrained("mog", "gaussian")
    scales = [0.0101] * 9 + [widest]
    with torch.no_grad():
        model.prior.locs[0] = torch.linspace(-1.5, 1.5, 10)
        model.prior.raw_scales[0] = torch.tensor([raw_for_scale(s, PRIOR_SCALE_BOUNDS) for s in scales])
    assert _cdf_error(model) < QUANTILE_TOLERANCE


def test_aligned_decoder_is_the_decoder_at_prior_quantiles(model):
    levels = (np.arange(100) + 0.5) / 100
    aligned = model.aligned_decoder(levels)
    with torch.no_grad():
        expected = model.decode(model.prior_quantile(levels).float()).double()
    torch.testing.assert_close(aligned, expected)


# ----- ensembles --------------------------------------------------------------------------


@pytest.mark.parametrize(("prior", "posterior"), COMBINATIONS, ids=COMBINATION_IDS)
def test_member_copy_matches_the_ensemble(prior, posterior):
    ensemble = VAE(prior, posterior, n_components=10, hidden=50, noise_std=[0.05, 0.1, 0.2], n_members=3)
    for member, seed in enumerate((5, 6, 7)):
        ensemble.reset_member(member, seed)
    y = torch.tensor([-0.05, 0.0, 0.1, 0.2, 0.3], dtype=torch.float64)
    log_marginals = exact.log_marginal(ensemble, y)
    z = torch.linspace(-2, 2, 11)
    for member in range(3):
        single = ensemble.member(member)
        assert single.n_members == 1 and single.noise_std.item() == ensemble.noise_std[member].item()
        with torch.no_grad():
            torch.testing.assert_close(
                single.decode(z.unsqueeze(0))[0], ensemble.decode(z.expand(3, -1))[member]
            )
        # Same model, possibly a different quadrature grid: agree to quadrature precision.
        torch.testing.assert_close(
            exact.log_marginal(single, y)[0], log_marginals[member], rtol=0, atol=QUADRATURE_TOLERANCE
        )
        # A member initialised alone from the same seed is the same model.
        alone = VAE(prior, posterior, 10, 50, [0.05, 0.1, 0.2][member])
        alone.reset_member(0, (5, 6, 7)[member])
        state, copied = alone.state_dict(), single.state_dict()
        assert state.keys() == copied.keys()
        for name in state:
            assert torch.equal(state[name], copied[name]), name


@pytest.mark.parametrize("prior", ["gaussian", "mog"])
def test_a_non_finite_member_does_not_spoil_the_others(prior):
    """A diverged member (NaN weights) must give NaN for itself only, never crash the ensemble."""
    ensemble = VAE(prior, "mog", n_components=10, hidden=50, noise_std=0.1, n_members=2)
    ensemble.reset_member(0, 5)
    ensemble.reset_member(1, 6)
    healthy = ensemble.member(1)
    with torch.no_grad():
        for parameter in ensemble.parameters():
            parameter[0] = math.nan
    y = torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64)
    log_marginals = exact.log_marginal(ensemble, y)
    assert torch.all(torch.isnan(log_marginals[0]))
    torch.testing.assert_close(
        log_marginals[1], exact.log_marginal(healthy, y)[0], rtol=0, atol=QUADRATURE_TOLERANCE
    )
    aligned = ensemble.aligned_decoder(LEVELS)
    torch.testing.assert_close(aligned[1], healthy.aligned_decoder(LEVELS)[0])


def _gaussian_rows(grid: torch.Tensor, locs) -> torch.Tensor:
    return torch.stack([torch.exp(-0.5 * (grid - loc) ** 2) / math.sqrt(2 * math.pi) for loc in locs])


def test_information_survives_densities_that_underflow():
    """I = E_rows KL(row ‖ mean row) with one row 37 units from the others: its tail reaches
    ~1e-320 under them, where the ratio to the mean once underflowed and gave I = +inf.

    Reference, exact for rows whose supports do not overlap: with A apart from B and C,
    I(A, B, C) = (1/3) log 3 + (2/3) log(3/2) + (2/3) I(B, C), and I(B, C) needs no far tails.
    """
    spacing = 0.01
    wide = torch.arange(-6000, 6001, dtype=torch.float64) * spacing
    narrow = torch.arange(-2000, 2101, dtype=torch.float64) * spacing
    far = metrics._information(_gaussian_rows(wide, (-37.0, 0.0, 1.0)), spacing)
    near = metrics._information(_gaussian_rows(narrow, (0.0, 1.0)), spacing)
    expected = math.log(3) / 3 + 2 / 3 * math.log(1.5) + 2 / 3 * near
    # A's overlap with B is ~exp(-37²/8) ≈ 1e-74: the identity holds to rounding.
    assert far == pytest.approx(expected, abs=1e-12)
