"""Adam on one flat (members × P) buffer, each member with its own step count and learning rate,
and the learning-rate schedule.

P is padded to a multiple of FLAT_ALIGN, so every elementwise op handles every element of every
member in the same vectorised way: a member's update does not depend on its row.
"""

from __future__ import annotations

import math

import torch

from vae_core.config import TrainConfig
from vae_core.convergence import FINAL_LR_FRACTION

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
FLAT_ALIGN = 64  # floats: a multiple of any CPU vector width × unroll, so no scalar tails


def flat_width(size: int) -> int:
    """The row width of a flat buffer holding `size` parameters: padded to FLAT_ALIGN."""
    return -(-size // FLAT_ALIGN) * FLAT_ALIGN


def adam_step(
    flat: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    grad: torch.Tensor,
    steps: list[int],
    lrs: list[float],
) -> None:
    """torch.optim.Adam's update, in place, with each member's (row's) own step count and lr."""
    beta1, beta2 = ADAM_BETAS
    exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    step_size = torch.tensor(
        [lr / (1 - beta1**t) for lr, t in zip(lrs, steps, strict=True)], device=flat.device
    ).unsqueeze(1)
    root_bias2 = torch.tensor([math.sqrt(1 - beta2**t) for t in steps], device=flat.device).unsqueeze(1)
    denom = (exp_avg_sq.sqrt() / root_bias2).add_(ADAM_EPS)
    flat.sub_(exp_avg * step_size / denom)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from lr to lr · FINAL_LR_FRACTION over config.steps: big steps early, fine
    ones at the end (see vae_core.convergence)."""
    progress = min(step / max(config.steps - 1, 1), 1.0)
    floor = FINAL_LR_FRACTION
    return config.lr * (floor + (1 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))
