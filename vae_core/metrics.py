"""Exact diagnostics of a trained model (docs/diagnostics.md), computed once, in one place."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import torch

from vae_core import exact, ground_truth
from vae_core.paper import PAPER_Y_VALUES, y_values_text

QUANTILE_LEVELS = (np.arange(2000) + 0.5) / 2000
INFORMATION_TEST_POINTS = 200
MAX_INFORMATION_NODES = 200_001

METRIC_INFO = {
    "test_elbo": ("test ELBO", "mean over test y of the exact ELBO(y) (quadrature over z), nats"),
    "test_log_likelihood": ("test log p_θ(y)", "mean exact model log-likelihood of test y, nats"),
    "true_test_log_likelihood": ("true test log p(y)", "mean exact log p(y) under the ground truth"),
    "likelihood_gap_to_truth": ("log p(y) − log p_θ(y)", "how far the model's fit is from the truth"),
    "inference_gap": (
        "inference gap",
        "log p_θ(y) − ELBO(y) = KL(q(z|y) ‖ p_θ(z|y)), exact, mean over test y",
    ),
    "kl_marginal": ("KL(p(y) ‖ p_θ(y))", "exact, by quadrature on a y-grid, nats"),
    "decoder_w1": ("W₁ decoder quantiles", "W₁ between f_φ(z), z ~ p(z), and f(u), u ~ U(0,1)"),
    "decoder_aligned_l1": (
        "aligned decoder distance",
        "mean |f_φ(F⁻¹(u)) − f(u)| at the best of f's symmetries",
    ),
    "decoder_linearity_r2": ("decoder linearity R²", "R² of a line fit to f_φ(z), z ~ p(z); 1 = linear"),
    "generated_mean": ("generated mean of y", "mean of y under the model"),
    "true_mean": ("true mean of y", "mean of y under the ground truth"),
    "generated_std": ("generated std of y", "std of y under the model"),
    "true_std": ("true std of y", "std of y under the ground truth"),
    "q_information": ("I_q(z; y)", "E_y KL(q(z|y) ‖ q(z)), nats: how much q(z|y) changes with y"),
    "exact_posterior_information": ("I_θ(z; y)", "the same for the model's exact p_θ(z|y)"),
    "true_information": ("I(u; y) truth", "the same for the ground-truth posterior p(u|y)"),
    "q_information_probe": (
        "I_q at the paper's y",
        f"how much q(z|y) changes across the paper's y = {y_values_text(PAPER_Y_VALUES)}, nats",
    ),
    "exact_posterior_information_probe": ("I_θ at the paper's y", "the same for p_θ(z|y)"),
    "true_information_probe": ("I truth at the paper's y", "the same for the true p(u|y)"),
}


def evaluate(model, config, test_y) -> dict:
    """All scalar diagnostics of a single-member model on its test data."""
    test_y = torch.as_tensor(test_y, dtype=torch.float64)
    log_lik = exact.log_marginal(model, test_y)[0]
    elbo = exact.elbo(model, test_y)[0]
    test_elbo, test_log_lik = elbo.mean().item(), log_lik.mean().item()
    true_log_lik = _true_mean_log_likelihood(test_y.numpy().tobytes(), config.noise_std)
    latent_quantiles = model.prior_quantile(QUANTILE_LEVELS)[0].numpy()
    aligned = model.decode(torch.as_tensor(latent_quantiles).float().unsqueeze(0))
    aligned = aligned[0].detach().double().numpy()
    true_mean, true_std = ground_truth.marginal_moments(config.noise_std)
    return {
        "test_elbo": test_elbo,
        "test_log_likelihood": test_log_lik,
        "true_test_log_likelihood": true_log_lik,
        "likelihood_gap_to_truth": true_log_lik - test_log_lik,
        "inference_gap": (log_lik - elbo).mean().item(),
        "kl_marginal": kl_marginal(model, config.noise_std),
        "decoder_w1": decoder_quantile_distance(aligned),
        "decoder_aligned_l1": aligned_decoder_distance(aligned),
        "decoder_linearity_r2": linearity_r2(latent_quantiles, aligned),
        "generated_mean": float(aligned.mean()),
        "true_mean": true_mean,
        "generated_std": float(np.sqrt(aligned.var() + config.noise_std**2)),
        "true_std": true_std,
        **posterior_information(model, test_y[:INFORMATION_TEST_POINTS], config.noise_std),
        **{
            f"{key}_probe": value
            for key, value in posterior_information(model, PAPER_Y_VALUES, config.noise_std).items()
        },
    }


def metrics_table(metrics: dict) -> pd.DataFrame:
    """The metrics as rows of (name with symbols, value, meaning), in METRIC_INFO's order."""
    rows = [(METRIC_INFO[k][0], metrics[k], METRIC_INFO[k][1]) for k in METRIC_INFO if k in metrics]
    return pd.DataFrame(rows, columns=["metric", "value", "meaning"])


def metrics_side_by_side(a: dict, b: dict) -> pd.DataFrame:
    """Two runs' metrics as rows of (name, A, B, A − B), in METRIC_INFO's order; a metric only
    one run has is NaN for the other (an older result, or a kind of model without it)."""
    keys = [k for k in METRIC_INFO if k in a or k in b]
    rows = [(METRIC_INFO[k][0], a.get(k, np.nan), b.get(k, np.nan)) for k in keys]
    table = pd.DataFrame(rows, columns=["metric", "A", "B"])
    table["A − B"] = table["A"] - table["B"]
    return table


@functools.lru_cache(maxsize=64)
def _true_mean_log_likelihood(test_y_bytes: bytes, noise_std: float) -> float:
    """Mean true log p(y) of a test set; seeds of one comparison share their test set."""
    test_y = torch.as_tensor(np.frombuffer(test_y_bytes, dtype=np.float64).copy())
    return ground_truth.log_marginal(test_y, noise_std).mean().item()


@functools.lru_cache(maxsize=32)
def _true_log_marginal_on_grid(noise_std: float) -> torch.Tensor:
    """log p(y) on the y-grid: the same for every model at this σ, so computed once."""
    return ground_truth.log_marginal(torch.as_tensor(ground_truth.y_grid(noise_std)), noise_std)


def kl_marginal(model, noise_std: float) -> float:
    """KL(p(y) ‖ p_θ(y)) = ∫ p log(p / p_θ) dy by the trapezoid rule where p has its mass."""
    grid = torch.as_tensor(ground_truth.y_grid(noise_std))
    log_true = _true_log_marginal_on_grid(noise_std)
    log_model = exact.log_marginal(model, grid)[0]
    integrand = torch.exp(log_true) * (log_true - log_model)
    return torch.trapezoid(integrand, grid).item()


def decoder_quantile_distance(aligned_decoder: np.ndarray) -> float:
    """W₁ between the laws of f_φ(Z), Z ~ prior, and f(U): ∫₀¹ |Q_φ(t) − Q_f(t)| dt.

    f_φ(F⁻¹(t)) at midpoint levels t is an equally weighted sample of f_φ(Z); sorted, it is
    Q_φ at those levels. This part of the decoder is identifiable (fixed by p(y) as σ → 0),
    whatever rearrangement of the latent the model chose.
    """
    learned = np.sort(aligned_decoder)
    truth = ground_truth.quantiles_of_f(QUANTILE_LEVELS)
    return float(np.mean(np.abs(learned - truth)))


def aligned_decoder_distance(aligned_decoder: np.ndarray) -> float:
    """mean_u |f_φ(F⁻¹(u)) − f(u)|, minimised over the symmetries of f that keep p(y) fixed.

    u ↦ 1 − u and swapping the halves [0, ½) ↔ [½, 1) leave f(U) unchanged in law, so a model
    may learn any of them; beyond these four, a large distance next to a small quantile
    distance (W₁) is non-identifiability at work (claim C5).
    """
    truth = ground_truth.f(QUANTILE_LEVELS)
    half = len(aligned_decoder) // 2
    swapped = np.concatenate([aligned_decoder[half:], aligned_decoder[:half]])
    candidates = (aligned_decoder, aligned_decoder[::-1], swapped, swapped[::-1])
    return float(min(np.mean(np.abs(c - truth)) for c in candidates))


def linearity_r2(u: np.ndarray, values: np.ndarray) -> float:
    slope, intercept = np.polyfit(u, values, 1)
    residual = values - (slope * u + intercept)
    total = np.sum((values - values.mean()) ** 2)
    return float(1.0 - np.sum(residual**2) / total) if total > 0 else 1.0


def posterior_information(model, y, noise_std: float) -> dict:
    """Mutual information E_y KL(post(·|y) ‖ mean_y post(·|y)) for q, p_θ and the truth.

    0 nats means the posterior ignores y (the paper's C1/C2 failure). A mean-based measure
    would not do: the true posterior is symmetric, so E[z|y] is the same for every y.
    """
    grid, spacing = information_grid(model, y)
    q = model.posterior_density(y, grid)[0]
    model_posterior = exact.posterior(model, y, grid)[0]
    return {
        "q_information": _information(q, spacing),
        "exact_posterior_information": _information(model_posterior, spacing),
        "true_information": ground_truth.information(y, noise_std),
    }


def information_grid(model, y) -> tuple[torch.Tensor, float]:
    """A uniform z-grid holding the mass of p_θ(z|y) (the prior's support) and of q(z|y) (every
    component ± 10 scales, also far out when y lies outside the data), fine enough for both."""
    grid, spacing = exact.latent_grid(model)
    q = model.posterior(torch.as_tensor(y, dtype=torch.float32).reshape(1, -1))
    locs, scales = q.locs.detach().double(), q.scales.detach().double()
    low = min(grid[0].item(), (locs - 10 * scales).min().item())
    high = max(grid[-1].item(), (locs + 10 * scales).max().item())
    spacing = min(spacing, scales.min().item() / 4)
    n_nodes = min(int((high - low) / spacing) + 2, MAX_INFORMATION_NODES)
    grid = torch.linspace(low, high, n_nodes, dtype=torch.float64)
    return grid, (high - low) / (n_nodes - 1)


def _information(densities: torch.Tensor, spacing: float) -> float:
    """E_rows KL(row ‖ mean row) for densities tabulated on a uniform grid (rows: y values).

    In logs: one row's density of ~1e-320 divided by the rows' mean underflowed to 0 or to
    inf, which made I_θ ±inf nats for p_θ(z|y) at y = −3, far outside the data.
    """
    log_densities = torch.log(densities) - torch.log(densities.sum(dim=1, keepdim=True) * spacing)
    log_aggregate = torch.logsumexp(log_densities, dim=0, keepdim=True) - math.log(len(densities))
    terms = log_densities.exp() * (log_densities - log_aggregate)
    return torch.where(densities > 0, terms, 0.0).sum(dim=1).mul(spacing).mean().item()
