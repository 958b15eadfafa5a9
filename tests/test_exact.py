"""The exact ELBO and inference gap (vae_core.exact) against independent computations.

The independent route: a plain trapezoid sum of q(z|y) (log p(y|z) + log p(z) − log q(z|y)) on
one uniform z-grid per y, far finer than anything exact.elbo uses (an eighth of q's narrowest
component and of the model's finest feature), over ± 12 scales of every component.
"""

from __future__ import annotations

import math

import pytest
import torch
from conftest import COMBINATION_IDS, COMBINATIONS, N_STANDARD_ERRORS, mean_with_se

from vae_core import exact
from vae_core.distributions import POSTERIOR_SCALE_BOUNDS, EqualWeightMixture, raw_for_scale
from vae_core.model import VAE

# float32 networks: log p(y|z) carries a rounding error of ~1e-7 relative (f_φ in float32), so
# ~1e-7 of |ELBO| (hundreds of nats far from the data at σ = 0.01), plus 2e-5 absolute.
TOLERANCE = 2e-5
RELATIVE = 1e-7


def _dense_elbo(model, y) -> torch.Tensor:
    q = model.posterior(torch.as_tensor(y).float().reshape(1, -1))
    locs, scales = q.locs.detach().double()[0], q.scales.detach().double()[0]
    spacing = min(exact.feature_widths(model)) / 8
    values = []
    for i in range(len(y)):
        low = (locs[i] - 12 * scales[i]).min().item()
        high = (locs[i] + 12 * scales[i]).max().item()
        h = min(scales[i].min().item() / 8, spacing)
        grid = torch.linspace(low, high, math.ceil((high - low) / h) + 1, dtype=torch.float64)
        log_q = EqualWeightMixture(locs[i : i + 1], scales[i : i + 1]).log_prob(grid.unsqueeze(0))[0]
        point = torch.tensor([[float(y[i])]], dtype=torch.float64)
        log_joint = exact.log_joint_on_grid(model, point, grid)[0, 0]
        values.append(torch.trapezoid(torch.exp(log_q) * (log_joint - log_q), grid).item())
    return torch.tensor(values, dtype=torch.float64)


def _untrained(prior, posterior, noise_std, seed=3):
    model = VAE(prior, posterior, n_components=10, hidden=50, noise_std=noise_std)
    model.reset_member(0, seed)
    return model


Y = [-0.3, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3, 1.0]


@pytest.mark.parametrize("noise_std", [0.01, 0.1])
@pytest.mark.parametrize(("prior", "posterior"), COMBINATIONS, ids=COMBINATION_IDS)
def test_exact_elbo_matches_a_dense_grid_untrained(prior, posterior, noise_std):
    model = _untrained(prior, posterior, noise_std)
    torch.testing.assert_close(exact.elbo(model, Y)[0], _dense_elbo(model, Y), rtol=RELATIVE, atol=TOLERANCE)


@pytest.mark.parametrize(("prior", "posterior"), COMBINATIONS, ids=COMBINATION_IDS)
def test_exact_elbo_and_gap_of_trained_models(default_results, prior, posterior):
    model = default_results[(prior, posterior)].model
    elbo = exact.elbo(model, Y)[0]
    torch.testing.assert_close(elbo, _dense_elbo(model, Y), rtol=RELATIVE, atol=TOLERANCE)
    gap = exact.inference_gap(model, Y)[0]
    torch.testing.assert_close(gap, exact.log_marginal(model, Y)[0] - elbo)
    assert torch.all(gap > -TOLERANCE)  # KL(q ‖ p_θ) ≥ 0


@pytest.mark.parametrize("path", ["shared grid", "per component"])
@pytest.mark.parametrize(("prior", "posterior"), COMBINATIONS, ids=COMBINATION_IDS)
def test_both_quadratures_of_the_exact_elbo_match_a_dense_grid(
    default_results, prior, posterior, path, monkeypatch
):
    """exact.elbo takes the shared latent grid where it resolves q and goes component by
    component elsewhere: each route alone must be right on every y (forced here)."""
    model = default_results[(prior, posterior)].model
    if path == "per component":
        monkeypatch.setattr(exact, "SHARED_GRID_MIN_SCALE", math.inf)
    else:
        monkeypatch.setattr(exact, "_elbo_per_component", _must_not_run)
        monkeypatch.setattr(exact, "SHARED_GRID_MIN_SCALE", 0.0)
    y = [-0.05, 0.0, 0.05, 0.1, 0.2, 0.3]  # in the data, where q lies within the grid
    torch.testing.assert_close(exact.elbo(model, y)[0], _dense_elbo(model, y), rtol=RELATIVE, atol=TOLERANCE)


def _must_not_run(*args):
    raise AssertionError("the per-component quadrature ran")


def test_a_narrow_component_inside_a_wide_one():
    """q fixed by hand: a component of scale 2e-3 on top of one of scale 1, over a decoder at
    σ = 0.01. The dip the narrow one puts into log q is invisible to a rule on the wide one's
    scale (Gauss–Hermite on it is off by ~1e-3 nats); exact.elbo must resolve it."""
    model = _untrained("gaussian", "mog", 0.01)
    locs = torch.linspace(-1.0, 1.0, 10)
    locs[1] = 0.05
    scales = torch.full((10,), 0.3)
    scales[0], scales[1] = 1.0, 2e-3
    with torch.no_grad():
        model.encoder.weights[-1][0].zero_()  # q no longer depends on y
        model.encoder.biases[-1][0, 0, :10] = locs
        model.encoder.biases[-1][0, 0, 10:] = torch.tensor(
            [raw_for_scale(s.item(), POSTERIOR_SCALE_BOUNDS) for s in scales]
        )
    torch.testing.assert_close(exact.elbo(model, Y)[0], _dense_elbo(model, Y), rtol=RELATIVE, atol=TOLERANCE)


def test_ensemble_members_get_their_own_exact_elbo():
    ensemble = VAE("mog", "mog", 10, 50, noise_std=[0.03, 0.1], n_members=2)
    for member, seed in enumerate((5, 6)):
        ensemble.reset_member(member, seed)
    both = exact.elbo(ensemble, Y)
    for member in range(2):
        torch.testing.assert_close(both[member], exact.elbo(ensemble.member(member), Y)[0])


@pytest.mark.parametrize(("prior", "posterior"), COMBINATIONS, ids=COMBINATION_IDS)
def test_monte_carlo_elbo_estimates_the_exact_elbo(default_results, prior, posterior):
    """The training objective's estimator is unbiased for the exact ELBO (within 5 SE)."""
    model = default_results[(prior, posterior)].model
    y = torch.tensor(Y[:7], dtype=torch.float64)
    target = exact.elbo(model, y)[0]
    generator = torch.Generator().manual_seed(4)
    repeated = y.float().repeat_interleave(2000).unsqueeze(0)
    noise = torch.randn((*repeated.shape, model.samples_per_y(1)), generator=generator)
    with torch.no_grad():
        draws = model.elbo(repeated, noise).double().reshape(len(y), 2000)
    for index, row in enumerate(draws.numpy()):
        mean, se = mean_with_se(row)
        assert abs(mean - target[index].item()) < N_STANDARD_ERRORS * se + TOLERANCE
