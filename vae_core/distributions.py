"""Priors and posteriors over the 1-D latent, all as equal-weight mixtures of Gaussians.

A Gaussian is the mixture with one component, so a prior or posterior is swapped by changing
`n_components`, never by an `if` in the ELBO. Parameters carry a leading "member"
dimension so that several models (seeds) train as one batched ensemble.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

# Scales live in [floor, ceiling] through a sigmoid on the log scale: a collapsing variance
# (the paper's "diverging" MoG runs) cannot reach 0 and an exploding one cannot reach inf.
POSTERIOR_SCALE_BOUNDS = (1e-3, 10.0)
PRIOR_SCALE_BOUNDS = (1e-2, 10.0)


def normal_log_prob(x: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """log N(x; loc, scale²), the formula torch.distributions.Normal.log_prob uses.

    Written out because building a Normal object every training step cost more than the
    arithmetic for these tiny tensors; tests check it against torch.distributions.
    """
    return -0.5 * ((x - loc) / scale) ** 2 - torch.log(scale) - LOG_SQRT_2PI


def bounded_scale(raw: torch.Tensor, bounds: tuple[float, float] | None) -> torch.Tensor:
    """Map an unconstrained number to a scale in [floor, ceiling], smoothly; bounds None: exp."""
    if bounds is None:
        return torch.exp(raw)
    log_floor, log_ceiling = math.log(bounds[0]), math.log(bounds[1])
    return torch.exp(log_floor + (log_ceiling - log_floor) * torch.sigmoid(raw))


def raw_for_scale(scale: float, bounds: tuple[float, float] | None) -> float:
    """Inverse of `bounded_scale`, to initialise a parameter at a chosen scale."""
    if bounds is None:
        return math.log(scale)
    log_floor, log_ceiling = math.log(bounds[0]), math.log(bounds[1])
    fraction = (math.log(scale) - log_floor) / (log_ceiling - log_floor)
    return math.log(fraction / (1.0 - fraction))


@dataclass
class EqualWeightMixture:
    """(1/M) Σᵢ N(locs[..., i], scales[..., i]²); M = 1 is a plain Gaussian.

    `locs` and `scales` have shape (*batch, M). Points z passed to `log_prob` have shape
    (*batch, K) and give (*batch, K) log densities.
    """

    locs: torch.Tensor
    scales: torch.Tensor

    @property
    def n_components(self) -> int:
        return self.locs.shape[-1]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        per_component = normal_log_prob(z.unsqueeze(-1), self.locs.unsqueeze(-2), self.scales.unsqueeze(-2))
        return torch.logsumexp(per_component, dim=-1) - math.log(self.n_components)

    def rsample_stratified(self, noise: torch.Tensor) -> torch.Tensor:
        """Reparameterised samples, the same number from every component (docs/elbo.md).

        `noise` is standard normal with shape (*batch, K), K a multiple of M; sample k comes from
        component k mod M. Averaging a function over these samples is an unbiased estimate of
        its expectation under the equal-weight mixture, with no gradient through a discrete
        choice of component.
        """
        repeats = noise.shape[-1] // self.n_components
        tiled_shape = (*self.locs.shape[:-1], noise.shape[-1])
        locs = self.locs.unsqueeze(-2).expand(*self.locs.shape[:-1], repeats, -1)
        scales = self.scales.unsqueeze(-2).expand(*self.scales.shape[:-1], repeats, -1)
        return locs.reshape(tiled_shape) + scales.reshape(tiled_shape) * noise

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n independent draws (component chosen uniformly), shape (*batch, n). Not differentiable."""
        batch_shape = self.locs.shape[:-1]
        component = torch.randint(self.n_components, (*batch_shape, n), generator=generator)
        noise = torch.randn((*batch_shape, n), generator=generator, dtype=self.locs.dtype)
        return self.locs.gather(-1, component) + self.scales.gather(-1, component) * noise

    def cdf(self, z: torch.Tensor) -> torch.Tensor:
        standardised = (z.unsqueeze(-1) - self.locs.unsqueeze(-2)) / self.scales.unsqueeze(-2)
        return torch.special.ndtr(standardised).mean(dim=-1)

    def support(self, n_std: float = 8.0) -> tuple[float, float]:
        """An interval holding all but ~1e-15 of the mass: every component ± n_std scales.

        Non-finite components (a diverged member of an ensemble) are left out, so they cannot
        spoil the grids of the others; if no component is finite, N(0, 1)'s interval.
        """
        low = self.locs - n_std * self.scales
        high = self.locs + n_std * self.scales
        finite = torch.isfinite(low) & torch.isfinite(high)
        if not bool(finite.any()):
            return -n_std, n_std
        return low[finite].min().item(), high[finite].max().item()


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, 1), the prior of MFG-VAE and MoG-VAE. No parameters."""

    def __init__(self, n_members: int):
        super().__init__()
        self.register_buffer("locs", torch.zeros(n_members, 1))
        self.register_buffer("scales", torch.ones(n_members, 1))

    def forward(self) -> EqualWeightMixture:
        return EqualWeightMixture(self.locs, self.scales)


class MixturePrior(nn.Module):
    """p(z) = (1/M) Σᵢ N(μᵢ, σᵢ²) with μᵢ and σᵢ learned (the paper's "more expressive prior")."""

    def __init__(self, n_members: int, n_components: int, bounded_scales: bool = True):
        super().__init__()
        self.locs = nn.Parameter(torch.zeros(n_members, n_components))
        self.raw_scales = nn.Parameter(torch.zeros(n_members, n_components))
        self.bounds = PRIOR_SCALE_BOUNDS if bounded_scales else None

    def forward(self) -> EqualWeightMixture:
        return EqualWeightMixture(self.locs, bounded_scale(self.raw_scales, self.bounds))


def make_prior(kind: str, n_members: int, n_components: int, bounded_scales: bool = True) -> nn.Module:
    if kind == "gaussian":
        return StandardNormalPrior(n_members)
    if kind == "mog":
        return MixturePrior(n_members, n_components, bounded_scales)
    raise ValueError(f"unknown prior {kind!r}: use 'gaussian' or 'mog'")
