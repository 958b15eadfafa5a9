"""The VAE of docs/models.md, batched over independent "members" (one per seed).

Every weight has a leading member dimension and layers are batched matmuls, so E models train
in one Python loop at nearly the cost of one (the per-step time of these tiny nets is Python and
dispatch overhead, not arithmetic). A single model is simply E = 1.

This module is the generative model and the Monte Carlo ELBO it is trained on; the exact
quantities of a trained model (log p_θ(y), p_θ(z|y), the exact ELBO and inference gap) are
computed by quadrature in vae_core.exact (docs/diagnostics.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from vae_core.distributions import (
    POSTERIOR_SCALE_BOUNDS,
    PRIOR_SCALE_BOUNDS,
    EqualWeightMixture,
    bounded_scale,
    make_prior,
    normal_log_prob,
    raw_for_scale,
)
from vae_core.exact import as_member_batch

QUANTILE_TABLE_NODES = 20001


def batched_affine(bias: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """bias + x @ weight for every member: (E, 1, out) + (E, N, in) @ (E, in, out) → (E, N, out).

    Written so that a member's numbers are bit-for-bit the same alone and at any position of any
    ensemble (vae_core.training relies on it; tests/test_service.py checks it), on CPU:
    - one input unit: an outer product, computed elementwise. As a batched matmul, its weight
      gradient (a 1 × N by N × out product per member) rounded differently for members at odd
      and at even positions of the ensemble (MKL, torch 2.13);
    - one output unit, alone: torch's bmm of one matrix is an mm, which takes BLAS's
      matrix-vector path and rounds differently from the batched product. The lone member is
      multiplied beside a copy of itself; the copy's share of the gradient is exactly zero.
    """
    if weight.shape[1] == 1:
        return torch.addcmul(bias, x, weight)
    if x.shape[0] == 1 and weight.shape[2] == 1:
        pair = [torch.cat([tensor, tensor]) for tensor in (bias, x, weight)]
        return torch.baddbmm(*pair)[:1]
    return torch.baddbmm(bias, x, weight)


class BatchedMLP(nn.Module):
    """E independent MLPs n_in → hidden → hidden → n_out with tanh, as batched matmuls."""

    def __init__(self, n_members: int, n_in: int, hidden: int, n_out: int):
        super().__init__()
        sizes = [n_in, hidden, hidden, n_out]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(n_members, a, b)) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(n_members, 1, b)) for b in sizes[1:])

    def reset_member(self, member: int, generator: torch.Generator) -> None:
        """nn.Linear's default initialisation, U(±1/sqrt(fan_in)), from this member's own seed."""
        with torch.no_grad():
            for weight, bias in zip(self.weights, self.biases):
                bound = 1.0 / math.sqrt(weight.shape[1])
                for tensor in (weight[member], bias[member]):
                    tensor.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (E, N, n_in) → (E, N, n_out)."""
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            x = batched_affine(bias, x, weight)
            if index < last:
                x = torch.tanh(x)
        return x


class VAE(nn.Module):
    """Decoder f_φ, encoder q_θ(z|y) and prior p(z) for E members.

    prior, posterior: "gaussian" or "mog"; a "mog" part has `n_components` equal-weight components.
    noise_std: the known likelihood scale σ, one per member (or one float for all).
    """

    def __init__(
        self,
        prior: str,
        posterior: str,
        n_components: int,
        hidden: int,
        noise_std,
        n_members: int = 1,
        bounded_scales: bool = True,
    ):
        super().__init__()
        self.prior_kind, self.posterior_kind = prior, posterior
        # Bounded (default): every scale lives in [floor, ceiling]. Unbounded: scale = exp(raw),
        # as a plain implementation has it; a variance can then collapse or explode (the
        # paper's diverging MoG-posterior runs).
        self.bounded_scales = bounded_scales
        self.posterior_bounds = POSTERIOR_SCALE_BOUNDS if bounded_scales else None
        self.n_members = n_members
        self.n_components = n_components
        self.posterior_components = n_components if posterior == "mog" else 1
        self.decoder = BatchedMLP(n_members, 1, hidden, 1)
        self.encoder = BatchedMLP(n_members, 1, hidden, 2 * self.posterior_components)
        self.prior = make_prior(prior, n_members, n_components, bounded_scales)
        noise = torch.as_tensor(noise_std, dtype=torch.float32).reshape(-1, 1)
        self.register_buffer("noise_std", noise.expand(n_members, 1).clone())

    def reset_member(self, member: int, seed: int) -> None:
        """Initialise one member from its seed alone, so it trains the same in any ensemble."""
        generator = torch.Generator().manual_seed(seed)
        self.decoder.reset_member(member, generator)
        self.encoder.reset_member(member, generator)
        with torch.no_grad():
            # Start every posterior (and mixture prior) component moderately wide, spread over
            # the bulk of N(0, 1): components that start on top of each other stay together.
            last_bias = self.encoder.biases[-1][member]
            m = self.posterior_components
            last_bias[:, :m] += torch.linspace(-1.0, 1.0, m) if m > 1 else 0.0
            last_bias[:, m:] += raw_for_scale(0.5, self.posterior_bounds)
            if self.prior_kind == "mog":
                spread = torch.linspace(-1.5, 1.5, self.prior.locs.shape[1])
                jitter = 0.1 * torch.randn(spread.shape, generator=generator)
                self.prior.locs[member] = spread + jitter
                self.prior.raw_scales[member] = raw_for_scale(
                    0.5, PRIOR_SCALE_BOUNDS if self.bounded_scales else None
                )

    # ----- the model's parts -------------------------------------------------------------------

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """f_φ(z) for z of shape (E, N) → (E, N)."""
        return self.decoder(z.unsqueeze(-1)).squeeze(-1)

    def posterior(self, y: torch.Tensor) -> EqualWeightMixture:
        """q_θ(z|y) for y of shape (E, B): components with shape (E, B, M_q)."""
        out = self.encoder(y.unsqueeze(-1))
        m = self.posterior_components
        return EqualWeightMixture(out[..., :m], bounded_scale(out[..., m:], self.posterior_bounds))

    def prior_distribution(self) -> EqualWeightMixture:
        """p(z) with components of shape (E, M_p)."""
        return self.prior()

    def log_likelihood(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log N(y; f_φ(z), σ²) for y (E, B) and z (E, B, K) → (E, B, K)."""
        members, batch, samples = z.shape
        flat = z.reshape(members, batch * samples).float()
        mean = self.decode(flat).reshape(members, batch, samples).to(y.dtype)
        # In y's precision: float32 in training, float64 for the exact quantities.
        return normal_log_prob(y.unsqueeze(-1), mean, self.noise_std.to(y.dtype).unsqueeze(-1))

    # ----- the training objective --------------------------------------------------------------

    def elbo(self, y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """ELBO(y) = E_q[log p(y|z) + log p(z) − log q(z|y)], one estimate per y: (E, B).

        `noise` (E, B, K) is standard normal, K a multiple of M_q: the stratified reparameterised
        estimator of docs/elbo.md (K / M_q samples from each posterior component).
        """
        posterior = self.posterior(y)
        z = posterior.rsample_stratified(noise)
        prior = self.prior_distribution()
        log_prior = prior.log_prob(z.reshape(self.n_members, -1)).reshape(z.shape)
        terms = self.log_likelihood(y, z) + log_prior - posterior.log_prob(z)
        return terms.mean(dim=-1)

    def samples_per_y(self, samples_per_component: int) -> int:
        return samples_per_component * self.posterior_components

    # ----- densities on given points (exact quantities by quadrature: vae_core.exact) ----------

    @torch.no_grad()
    def posterior_density(self, y, z_grid) -> torch.Tensor:
        """The encoder's q_θ(z|y) at the points `z_grid`: (E, N, len(z_grid))."""
        y = as_member_batch(self, y)
        z = torch.as_tensor(z_grid, dtype=torch.float32)
        z = z.expand(*y.shape, -1)
        return torch.exp(self.posterior(y.float()).log_prob(z)).double()

    @torch.no_grad()
    def prior_density(self, z_grid) -> torch.Tensor:
        z = torch.as_tensor(z_grid, dtype=torch.float32).expand(self.n_members, -1)
        return torch.exp(self.prior_distribution().log_prob(z)).double()

    @torch.no_grad()
    def sample_y(self, n: int, seed: int = 0) -> torch.Tensor:
        """n draws of y from the model: z ~ p(z), y ~ N(f_φ(z), σ²). Shape (E, n)."""
        generator = torch.Generator().manual_seed(seed)
        z = self.prior_distribution().sample(n, generator=generator)
        noise = torch.randn(z.shape, generator=generator)
        return (self.decode(z) + self.noise_std * noise).double()

    @torch.no_grad()
    def prior_quantile(self, levels) -> torch.Tensor:
        """F_prior⁻¹(u) for levels u in (0, 1): (E, len(levels)).

        Linear interpolation of the mixture CDF tabulated on nodes spread over every component's
        own ±12 scales (error ≲ 1e-6 in u for any allowed mixture: a uniform grid over the whole
        support misses a 0.01-wide component next to a 10-wide one by ~4e-3), and much faster
        than bisection (metrics and figures ask for thousands of levels).
        """
        prior = self.prior_distribution()
        locs, scales = prior.locs.double(), prior.scales.double()
        per_component = max(2, QUANTILE_TABLE_NODES // locs.shape[-1])
        offsets = torch.linspace(-12.0, 12.0, per_component, dtype=torch.float64)
        grid = (locs.unsqueeze(-1) + scales.unsqueeze(-1) * offsets).flatten(1).sort(dim=1).values
        cdf = EqualWeightMixture(locs, scales).cdf(grid)
        levels = np.asarray(levels, dtype=np.float64)
        rows = [np.interp(levels, c.numpy(), g.numpy()) for c, g in zip(cdf, grid, strict=True)]
        return torch.as_tensor(np.stack(rows))

    @torch.no_grad()
    def aligned_decoder(self, levels) -> torch.Tensor:
        """f_φ(F_prior⁻¹(u)): the decoder on the true latent's scale u ∈ (0, 1). (E, len(levels))."""
        return self.decode(self.prior_quantile(levels).float()).double()

    def member(self, index: int) -> VAE:
        """A standalone single-member copy of member `index`."""
        single = VAE(
            self.prior_kind,
            self.posterior_kind,
            self.n_components,
            self.decoder.weights[0].shape[2],
            self.noise_std[index].item(),
            n_members=1,
            bounded_scales=self.bounded_scales,
        )
        state = {name: value[index : index + 1].clone() for name, value in self.state_dict().items()}
        single.load_state_dict(state)
        return single
