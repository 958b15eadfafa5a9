"""A plain PyTorch reference trainer: the yardstick `vae_core.training.train_many` is measured against.

What a straightforward user would write from docs/models.md and docs/elbo.md, one model at a time:
- `nn.Sequential` MLPs with tanh: decoder 1 → H → H → 1, encoder 1 → H → H → 2M
  (M posterior components: M locations, then M unconstrained scales);
- torch.distributions for every density: `Normal`, and `MixtureSameFamily(Categorical, Normal)`
  for the mixture prior and posterior;
- the stratified estimator of docs/elbo.md for a mixture posterior (one reparameterised sample
  from every component; MixtureSameFamily has no rsample);
- `torch.optim.Adam` at a constant learning rate, a fixed number of steps, eager mode.

It takes its hyperparameters (batch_size, lr, hidden, n_components, samples_per_component,
noise_std, the data) from the same `TrainConfig` as the project, and bounds scales with the
project's floor and ceiling so that it cannot produce NaN either. It is not slowed on purpose:
no DataLoader, no per-step .item() or logging, argument validation of the distributions off
(it cost ~0.3 ms a step); the only per-step work besides forward, backward and the optimiser is
drawing the minibatch and the noise.

After training, its weights are copied into a single-member `vae_core.model.VAE` (the layouts
are documented in `to_vae`) so that the exact test log-likelihood is computed by exactly the same
quadrature as the project's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.distributions import Categorical, MixtureSameFamily, Normal

from vae_core import exact
from vae_core.config import TrainConfig
from vae_core.data import training_data

# The project's scale map, so both trainers bound scales identically (the plain part of this
# trainer is the loop and torch.distributions, not this one-line map).
from vae_core.distributions import (
    POSTERIOR_SCALE_BOUNDS,
    PRIOR_SCALE_BOUNDS,
    bounded_scale,
    raw_for_scale,
)
from vae_core.model import VAE

# The sweep in every full run of benchmarks/bench_train.py (see RESULTS.md) shows the reference's
# test log-likelihood at constant lr: by 1500 steps most runs sit within 0.01 nats of the truth,
# and at constant lr single runs keep jittering by up to ~0.02 nats whatever the step count.
DEFAULT_REFERENCE_STEPS = 1500


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.Tanh(),
        nn.Linear(hidden, hidden),
        nn.Tanh(),
        nn.Linear(hidden, n_out),
    )


def equal_weight_mixture(locs: torch.Tensor, scales: torch.Tensor) -> MixtureSameFamily:
    """(1/M) Σᵢ N(locs[..., i], scales[..., i]²) as a torch distribution."""
    return MixtureSameFamily(
        Categorical(logits=torch.zeros_like(locs), validate_args=False),
        Normal(locs, scales, validate_args=False),
        validate_args=False,
    )


class ReferenceVAE(nn.Module):
    """One VAE (docs/models.md) written the obvious way."""

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.prior_kind, self.posterior_kind = config.prior, config.posterior
        self.posterior_components = config.n_components if config.posterior == "mog" else 1
        self.noise_std = config.noise_std
        self.decoder = mlp(1, config.hidden, 1)
        self.encoder = mlp(1, config.hidden, 2 * self.posterior_components)
        if config.prior == "mog":
            self.prior_locs = nn.Parameter(torch.zeros(config.n_components))
            self.prior_raw_scales = nn.Parameter(torch.zeros(config.n_components))

    def initialise(self, seed: int) -> None:
        """nn.Linear's default init, then the project's starting point for the distributions.

        Posterior components start spread over [-1, 1] with scale 0.5 and the mixture prior's
        components over [-1.5, 1.5] with scale 0.5, as in the project (the same recipe, its own
        random numbers), so that quality differences come from training, not initialisation.
        """
        torch.manual_seed(seed)
        for layer in [*self.decoder, *self.encoder]:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        m = self.posterior_components
        with torch.no_grad():
            last_bias = self.encoder[-1].bias
            if m > 1:
                last_bias[:m] += torch.linspace(-1.0, 1.0, m)
            last_bias[m:] += raw_for_scale(0.5, POSTERIOR_SCALE_BOUNDS)
            if self.prior_kind == "mog":
                spread = torch.linspace(-1.5, 1.5, len(self.prior_locs))
                self.prior_locs.copy_(spread + 0.1 * torch.randn(spread.shape))
                self.prior_raw_scales.fill_(raw_for_scale(0.5, PRIOR_SCALE_BOUNDS))

    def prior(self):
        if self.prior_kind == "mog":
            scales = bounded_scale(self.prior_raw_scales, PRIOR_SCALE_BOUNDS)
            return equal_weight_mixture(self.prior_locs, scales)
        return Normal(0.0, 1.0, validate_args=False)

    def posterior_parameters(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output for y (B,): component locations and scales, each (B, M)."""
        out = self.encoder(y.unsqueeze(-1))
        m = self.posterior_components
        return out[:, :m], bounded_scale(out[:, m:], POSTERIOR_SCALE_BOUNDS)

    def elbo(self, y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """ELBO(y) = E_q[log p(y|z) + log p(z) − log q(z|y)], one estimate per y: (B,).

        noise: standard normal (B, K), K a multiple of M; sample k comes from posterior
        component k mod M (the stratified estimator of docs/elbo.md).
        """
        locs, scales = self.posterior_parameters(y)
        repeats = noise.shape[1] // self.posterior_components
        z = locs.repeat(1, repeats) + scales.repeat(1, repeats) * noise  # (B, K)
        if self.posterior_kind == "mog":
            posterior = equal_weight_mixture(locs, scales)  # batch shape (B,)
            log_q = posterior.log_prob(z.T).T  # z.T is (K, B): K samples of the batch
        else:
            log_q = Normal(locs, scales, validate_args=False).log_prob(z)
        log_p_z = self.prior().log_prob(z)
        decoded = self.decoder(z.reshape(-1, 1)).reshape(z.shape)
        likelihood = Normal(decoded, self.noise_std, validate_args=False)
        log_p_y_given_z = likelihood.log_prob(y.unsqueeze(-1))
        return (log_p_y_given_z + log_p_z - log_q).mean(dim=1)


def to_vae(reference: ReferenceVAE, config: TrainConfig) -> VAE:
    """The same model as a single-member `vae_core.model.VAE`, for the project's exact metrics.

    vae_core layouts: decoder/encoder `weights[i]` is (1, in, out) = Linear.weight.T, `biases[i]`
    is (1, 1, out); encoder output is [M locations, M raw scales]; a mixture prior has `locs` and
    `raw_scales` of shape (1, M).
    """
    vae = VAE(
        config.prior, config.posterior, config.n_components, config.hidden, config.noise_std, n_members=1
    )
    with torch.no_grad():
        for ours, theirs in ((vae.decoder, reference.decoder), (vae.encoder, reference.encoder)):
            linears = [layer for layer in theirs if isinstance(layer, nn.Linear)]
            for weight, bias, linear in zip(ours.weights, ours.biases, linears, strict=True):
                weight.copy_(linear.weight.T.unsqueeze(0))
                bias.copy_(linear.bias.reshape(1, 1, -1))
        if config.prior == "mog":
            vae.prior.locs.copy_(reference.prior_locs.unsqueeze(0))
            vae.prior.raw_scales.copy_(reference.prior_raw_scales.unsqueeze(0))
    return vae


@dataclass
class ReferenceResult:
    config: TrainConfig
    model: ReferenceVAE
    steps: int
    train_seconds: float  # the training loop alone
    final_train_elbo: float  # mean ELBO of the last step's batch (Monte Carlo)
    test_log_likelihood: float = math.nan  # exact mean log p_θ(y) over the test set
    eval_seconds: float = 0.0
    checkpoints: dict[int, float] = field(default_factory=dict)  # step → test log p_θ(y)


def train_reference(
    config: TrainConfig,
    steps: int = DEFAULT_REFERENCE_STEPS,
    evaluate: bool = True,
    checkpoints: tuple[int, ...] = (),
) -> ReferenceResult:
    """Train one model for a fixed number of steps at constant lr; then its exact test log p_θ(y).

    `checkpoints`: steps after which to record the exact test log-likelihood as well (to choose
    the number of steps; the time spent evaluating is not counted in train_seconds).
    """
    train_y, test_y = training_data(config)
    train_y = train_y.float()
    model = ReferenceVAE(config)
    model.initialise(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed * 7919 + 17)
    samples = config.samples_per_component * model.posterior_components
    full_batch = config.batch_size >= len(train_y)

    recorded: dict[int, float] = {}
    eval_seconds = 0.0
    started = time.perf_counter()
    for step in range(1, steps + 1):
        if full_batch:
            batch = train_y
        else:
            batch = train_y[torch.randint(len(train_y), (config.batch_size,), generator=generator)]
        noise = torch.randn(len(batch), samples, generator=generator)
        loss = -model.elbo(batch, noise).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in checkpoints:
            paused = time.perf_counter()
            recorded[step] = exact_test_log_likelihood(model, config, test_y)
            eval_seconds += time.perf_counter() - paused
    train_seconds = time.perf_counter() - started - eval_seconds

    result = ReferenceResult(config, model, steps, train_seconds, -loss.item(), checkpoints=recorded)
    if evaluate:
        started = time.perf_counter()
        result.test_log_likelihood = exact_test_log_likelihood(model, config, test_y)
        result.eval_seconds = time.perf_counter() - started
    return result


def exact_test_log_likelihood(model: ReferenceVAE, config: TrainConfig, test_y=None) -> float:
    if test_y is None:
        test_y = training_data(config)[1]
    return exact.log_marginal(to_vae(model, config), test_y).mean().item()
