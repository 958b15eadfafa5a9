"""The project's ELBO is the plain definition: same weights, same y, same noise → same number.

benchmarks/reference_trainer.py writes the VAE the obvious way (nn.Sequential, torch.distributions);
here its weights are copied into a vae_core VAE and both ELBOs are compared on identical inputs,
for all four prior × posterior combinations. The mutation test shows the comparison has teeth:
dropping any one of the three terms of the ELBO moves it far outside the tolerance.
"""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal

from benchmarks.reference_trainer import ReferenceVAE, equal_weight_mixture, to_vae
from vae_core.config import TrainConfig

COMBINATIONS = [("gaussian", "gaussian"), ("gaussian", "mog"), ("mog", "gaussian"), ("mog", "mog")]
RTOL, ATOL = 1e-4, 1e-5
SAMPLES_PER_COMPONENT = 2
BATCH = 16


def make_pair(prior: str, posterior: str, seed: int = 3):
    """A reference model with non-trivial weights and the same model as a vae_core VAE."""
    config = TrainConfig(prior=prior, posterior=posterior, n_components=4, hidden=8, noise_std=0.3, seed=seed)
    reference = ReferenceVAE(config)
    reference.initialise(seed)
    generator = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():  # move every parameter off its initial value, prior included
        for parameter in reference.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return config, reference, to_vae(reference, config)


def inputs(reference: ReferenceVAE, seed: int = 5):
    generator = torch.Generator().manual_seed(seed)
    y = 0.1 + 0.3 * torch.randn(BATCH, generator=generator)
    k = SAMPLES_PER_COMPONENT * reference.posterior_components
    return y, torch.randn(BATCH, k, generator=generator)


def plain_terms(reference: ReferenceVAE, y: torch.Tensor, noise: torch.Tensor):
    """log p(y|z), log p(z), log q(z|y) at the stratified samples, each (B, K).

    Written with torch.distributions directly, independently of ReferenceVAE.elbo.
    """
    locs, scales = reference.posterior_parameters(y)
    m = reference.posterior_components
    component = torch.arange(noise.shape[1]) % m  # sample k comes from component k mod M
    z = locs[:, component] + scales[:, component] * noise
    if reference.posterior_kind == "mog":
        log_q = equal_weight_mixture(locs, scales).log_prob(z.T).T
    else:
        log_q = Normal(locs, scales).log_prob(z)
    log_prior = reference.prior().log_prob(z)
    decoded = reference.decoder(z.reshape(-1, 1)).reshape(z.shape)
    log_lik = Normal(decoded, reference.noise_std).log_prob(y.unsqueeze(-1))
    return log_lik, log_prior, log_q


@pytest.mark.parametrize("prior,posterior", COMBINATIONS)
def test_project_elbo_equals_plain_elbo(prior, posterior):
    _, reference, vae = make_pair(prior, posterior)
    y, noise = inputs(reference)
    log_lik, log_prior, log_q = plain_terms(reference, y, noise)
    plain = (log_lik + log_prior - log_q).mean(dim=1)

    project = vae.elbo(y.unsqueeze(0), noise.unsqueeze(0))[0]

    torch.testing.assert_close(project, plain, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(reference.elbo(y, noise), plain, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("prior,posterior", COMBINATIONS)
def test_gradients_agree(prior, posterior):
    """Training follows the same objective: equal gradients for the decoder, encoder and prior."""
    _, reference, vae = make_pair(prior, posterior)
    y, noise = inputs(reference)
    reference.elbo(y, noise).sum().backward()
    vae.elbo(y.unsqueeze(0), noise.unsqueeze(0)).sum().backward()
    pairs = [
        (vae.decoder.weights[0].grad[0], reference.decoder[0].weight.grad.T),
        (vae.encoder.weights[2].grad[0], reference.encoder[4].weight.grad.T),
        (vae.encoder.biases[2].grad[0, 0], reference.encoder[4].bias.grad),
    ]
    if prior == "mog":
        pairs.append((vae.prior.locs.grad[0], reference.prior_locs.grad))
        pairs.append((vae.prior.raw_scales.grad[0], reference.prior_raw_scales.grad))
    for ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("prior,posterior", COMBINATIONS)
def test_comparison_detects_a_missing_term(prior, posterior):
    """Were the project to drop log q (or log p(z), or log p(y|z)), the first test would fail."""
    _, reference, vae = make_pair(prior, posterior)
    y, noise = inputs(reference)
    log_lik, log_prior, log_q = plain_terms(reference, y, noise)
    project = vae.elbo(y.unsqueeze(0), noise.unsqueeze(0))[0].detach()
    mutants = {
        "without log q": log_lik + log_prior,
        "without log p(z)": log_lik - log_q,
        "without log p(y|z)": log_prior - log_q,
    }
    for name, terms in mutants.items():
        wrong = terms.mean(dim=1).detach()
        assert not torch.allclose(project, wrong, rtol=100 * RTOL, atol=100 * ATOL), name


def test_copied_model_decodes_and_encodes_identically():
    _, reference, vae = make_pair("mog", "mog")
    z = torch.linspace(-3, 3, 50)
    torch.testing.assert_close(vae.decode(z.unsqueeze(0))[0], reference.decoder(z.unsqueeze(-1)).squeeze(-1))
    locs, scales = reference.posterior_parameters(z)
    posterior = vae.posterior(z.unsqueeze(0))
    torch.testing.assert_close(posterior.locs[0], locs)
    torch.testing.assert_close(posterior.scales[0], scales)
