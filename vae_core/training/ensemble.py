"""An Ensemble: members of one ensemble_key stepped together, joining and leaving between steps.

While the members stay the same, their weights and Adam moments live in one flat (E × P) buffer
(the model's parameters are views into it, vae_core.training.optim); a change of membership
writes every member's row back into its checkpoint and stacks the buffer anew. After its step
each member is checked on its own: divergence, evaluation, snapshot, early stop, pause.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from vae_core import exact
from vae_core.convergence import should_stop
from vae_core.model import VAE
from vae_core.training.member import Checkpoint, Member, build_model, snapshot
from vae_core.training.memory import keep_freed_memory
from vae_core.training.optim import adam_step, flat_width, learning_rate

DIVERGENCE_CHECK_EVERY = 25
EXPLOSION_MISS = 5.0  # see divergence_reason
# Decoder snapshots for the training animation: log-spaced over the first steps (where the
# decoder changes most), then at every evaluation and at the end.
EARLY_SNAPSHOT_STEPS = frozenset({0, 1, 2, 4, 8, 16, 32, 64})


class Ensemble:
    """Members sharing an ensemble_key, stepped together; members may join and leave between steps."""

    def __init__(self, key: tuple, device: str = "cpu"):
        keep_freed_memory()  # the step's temporaries stay in the process (training/memory.py)
        self.key = key
        self.device = torch.device(device)  # members' own state always stays on the CPU
        self.members: list[Member] = []
        self._stacked: list[Member] | None = None  # the members the buffers hold, in order

    def add(self, member: Member) -> None:
        assert member.config.ensemble_key() == self.key
        self._unstack()
        self.members.append(member)

    def remove(self, member: Member) -> Checkpoint:
        """Take a member out (e.g. paused, stopped), returning its up-to-date checkpoint."""
        self._unstack()
        self.members.remove(member)
        return member.checkpoint

    def checkpoint_of(self, member: Member) -> Checkpoint:
        """An up-to-date checkpoint of a member that stays in the ensemble."""
        self._unstack()
        return member.checkpoint

    def __len__(self) -> int:
        return len(self.members)

    # -- stacking --

    def _unstack(self) -> None:
        if self._stacked is None:
            return
        state = self.model.state_dict()
        for row, member in enumerate(self._stacked):
            weights = {k: v[row : row + 1] for k, v in state.items()}
            member.save(weights, self.exp_avg[row, : self.size], self.exp_avg_sq[row, : self.size])
        self._stacked = None

    def _stack(self) -> None:
        members = self.members
        model = build_model([m.config for m in members])
        state = {k: torch.cat([m.checkpoint.weights[k] for m in members]) for k in model.state_dict()}
        model.load_state_dict(state)
        model.to(self.device)
        params = list(model.parameters())
        self.size = sum(p[0].numel() for p in params)
        width = flat_width(self.size)
        count = len(members)
        self.flat = torch.zeros(count, width, device=self.device)
        offset = 0
        for param in params:
            n = param[0].numel()
            self.flat[:, offset : offset + n] = param.detach().reshape(count, n)
            param.data = self.flat[:, offset : offset + n].view(param.shape)
            offset += n
        self.exp_avg = torch.zeros(count, width, device=self.device)
        self.exp_avg_sq = torch.zeros(count, width, device=self.device)
        for row, member in enumerate(members):
            self.exp_avg[row, : self.size] = member.checkpoint.exp_avg
            self.exp_avg_sq[row, : self.size] = member.checkpoint.exp_avg_sq
        self.padding = torch.zeros(count, width - self.size, device=self.device)
        self.params = params
        self.model = model
        self.train_y = torch.stack([m.train_y for m in members]).to(self.device)
        self._stacked = list(members)
        for member in members:
            member.ensemble_size = max(member.ensemble_size, count)

    # -- one step of every member --

    def step(self) -> list[Member]:
        """One Adam step of every member; returns the members that finished or paused at it."""
        if self._stacked is None:
            self._stack()
        started = time.perf_counter()
        members = self.members
        draws = [m.step_noise() for m in members]
        noise = torch.stack([d[0] for d in draws]).to(self.device)
        if draws[0][1] is None:
            batch = self.train_y
        else:
            indices = torch.stack([d[1] for d in draws]).to(self.device)
            batch = torch.gather(self.train_y, 1, indices)
        elbo = self.model.elbo(batch, noise).mean(dim=1)
        grads = torch.autograd.grad(-elbo.sum(), self.params)
        count = len(members)
        flat_grad = torch.cat([g.reshape(count, -1) for g in grads] + [self.padding], dim=1)
        adam_step(
            self.flat,
            self.exp_avg,
            self.exp_avg_sq,
            flat_grad,
            [m.step + 1 for m in members],
            [learning_rate(m.config, m.step) for m in members],
        )
        values = elbo.detach().tolist()
        seconds = time.perf_counter() - started
        done = []
        for row, member in enumerate(members):
            member.train_elbo.append(values[row])
            member.step += 1
            member.train_seconds += seconds
            if self._bookkeep(member, row):
                done.append(member)
        return done

    def _row_weights(self, row: int) -> dict[str, torch.Tensor]:
        return {k: v[row : row + 1] for k, v in self.model.state_dict().items()}

    def _save(self, member: Member, row: int) -> None:
        member.save(self._row_weights(row), self.exp_avg[row, : self.size], self.exp_avg_sq[row, : self.size])

    def _bookkeep(self, member: Member, row: int) -> bool:
        """Divergence, evaluation, snapshot, early stop and pause of one member after its step."""
        config, done = member.config, member.step
        if done % DIVERGENCE_CHECK_EVERY == 0 or done == config.steps:
            weights_finite = bool(torch.isfinite(self.flat[row]).all())
            found = divergence_reason(member.train_elbo, config.noise_std, weights_finite)
            if found is not None:
                member.finished_step, member.diverged_reason = found
                member.status = "diverged"
                self._save(member, row)
                return True
        evaluate_now = done % config.eval_every == 0 or done == config.steps
        if evaluate_now or done in EARLY_SNAPSHOT_STEPS:
            member.single.load_state_dict(self._row_weights(row))
            member.snapshots.append((done, *snapshot(member.single)))
        if evaluate_now:
            member.evaluations.append((done, *evaluate_history(member.single, member.valid_y)))
            if config.early_stop and should_stop([e[1] for e in member.evaluations], done, config.steps):
                member.status = "converged"
        if member.status == "training" and done >= config.steps:
            member.status = "completed"
        if member.status == "training" and member.pause_at is not None and done >= member.pause_at:
            member.status = "paused"
        if member.finished:
            member.finished_step = done
            self._save(member, row)
            return True
        return False

    def current_weights(self, member: Member) -> dict[str, torch.Tensor]:
        """A copy of the member's current single-member state dict (for live figures)."""
        if self._stacked is None:
            return {k: v.clone() for k, v in member.checkpoint.weights.items()}
        row = self._stacked.index(member)
        return {k: v.detach().cpu().clone() for k, v in self._row_weights(row).items()}


def divergence_reason(
    train_elbo: list[float], noise_std: float, weights_finite: bool
) -> tuple[int, str] | None:
    """(first bad step, reason) if the last DIVERGENCE_CHECK_EVERY steps went bad, else None.

    Bounded scales keep the ELBO finite even when Adam blows up (lr = 10 sends it to ~−1e6
    without a NaN), so "diverged" also means an ELBO below −½(EXPLOSION_MISS/σ)²: the decoder
    misses y by EXPLOSION_MISS on average, 20× the data's whole range [0, 0.25]. Sound runs
    swing far less (at σ = 0.005 the first Adam step dips to −8e3, the threshold is −5e5).
    """
    step = len(train_elbo)
    start = max(0, step - DIVERGENCE_CHECK_EVERY)
    threshold = -0.5 * (EXPLOSION_MISS / np.float32(noise_std)) ** 2
    for index in range(start, step):
        value = train_elbo[index]
        if not math.isfinite(value):
            return index + 1, f"the ELBO became {value} at step {index + 1}"
        if value < threshold:
            return index + 1, f"the ELBO exploded to {value:.3g} nats at step {index + 1}"
    if not weights_finite:
        return step, f"a weight became non-finite by step {step}"
    return None


def evaluate_history(model: VAE, valid_y: torch.Tensor) -> tuple[float, float]:
    """Exact validation ELBO and log-likelihood of a single-member model (so the numbers cannot
    depend on other members), on the same validation y: their difference is the inference gap
    on that data, with no Monte Carlo noise and no minibatches."""
    with torch.no_grad():
        elbo = exact.elbo(model, valid_y).mean().item()
        log_lik = exact.log_marginal(model, valid_y).mean().item()
    return elbo, log_lik
