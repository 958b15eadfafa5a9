"""Training: maximise the ELBO with Adam, many configs at once as one batched ensemble.

The engine is built for continuous batching: every member of a `Ensemble` carries its own state
(weights, Adam moments, step count and so learning-rate position, random generator, history),
so members can join and leave a running batch, be paused with a `Checkpoint` and resumed later,
and a member's numbers depend on its own config alone, never on what trains beside it.

How that determinism is obtained (measured on CPU, one torch thread):
- every random number of a member (initialisation, minibatch indices, Monte Carlo ε) comes from
  its own torch.Generator, drawn in chunks of NOISE_CHUNK of its *own* steps;
- the layers' products (vae_core.model.batched_affine) give a member the same bits alone and at
  any position of any ensemble;
- Adam is applied by hand on one flat (members × P) buffer, P padded to a multiple of
  FLAT_ALIGN, so every elementwise op handles every element in the same vectorised way;
- validation evaluations, snapshots and the final metrics use a single-member copy of the model.

`train` and `train_many` run this engine in-process (scripts, tests, the CLI); the app trains
through vae_core.serving, which runs the same engine in worker processes.
"""

from __future__ import annotations

import copy
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from vae_core import exact
from vae_core.config import TrainConfig
from vae_core.convergence import FINAL_LR_FRACTION, should_stop
from vae_core.data import VALIDATION_POINTS, training_data, validation_data  # noqa: F401 (re-export)
from vae_core.metrics import evaluate
from vae_core.model import VAE

ENSEMBLES_IN_PARALLEL = max(1, os.cpu_count() or 1)  # one ensemble per core; see train_many
NOISE_CHUNK = 100  # a member's own steps of Monte Carlo noise drawn in one call
DIVERGENCE_CHECK_EVERY = 25
EXPLOSION_MISS = 5.0  # see divergence_reason
# Early stop: vae_core.convergence.should_stop on the exact validation ELBO.
SNAPSHOT_Z = np.linspace(-3.0, 3.0, 121)
SNAPSHOT_U = (np.arange(100) + 0.5) / 100
# Decoder snapshots for the training animation: log-spaced over the first steps (where the
# decoder changes most), then at every evaluation and at the end.
EARLY_SNAPSHOT_STEPS = frozenset({0, 1, 2, 4, 8, 16, 32, 64})
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
FLAT_ALIGN = 64  # floats: a multiple of any CPU vector width × unroll, so no scalar tails
NOISE_SEED_MULTIPLIER, NOISE_SEED_OFFSET = 7919, 17


@dataclass
class Progress:
    """What `on_progress` receives: enough to draw a live ELBO curve."""

    step: int
    total_steps: int
    steps: np.ndarray  # steps logged so far
    train_elbo: np.ndarray  # (len(steps), members) mean train ELBO per step (NaN once finished)
    configs: list[TrainConfig]


@dataclass
class TrainResult:
    config: TrainConfig
    model: VAE
    history: pd.DataFrame  # step, train_elbo, validation_elbo, validation_log_likelihood (NaN off-eval)
    snapshot_steps: np.ndarray
    snapshot_decoder: np.ndarray  # f_φ(z) on SNAPSHOT_Z, one row per snapshot
    snapshot_aligned: np.ndarray  # f_φ(F_prior⁻¹(u)) on SNAPSHOT_U, one row per snapshot
    metrics: dict = field(default_factory=dict)
    status: str = "completed"  # completed | converged | stopped | diverged
    steps_run: int = 0
    diverged_step: int | None = None
    diverged_reason: str = ""
    train_seconds: float = 0.0  # wall time this member spent in training batches
    ensemble_size: int = 1  # the most members it trained beside (itself included)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


# ----- one member's state ----------------------------------------------------------------------


@dataclass
class Checkpoint:
    """Everything needed to continue one member exactly where it was: picklable, CPU only.

    A run paused and resumed from its checkpoint gives the numbers of an uninterrupted run.
    """

    config: TrainConfig
    step: int
    weights: dict[str, torch.Tensor]  # single-member state dict
    exp_avg: torch.Tensor  # Adam moments, flat in the order of VAE.parameters()
    exp_avg_sq: torch.Tensor
    chunk_rng_state: torch.Tensor  # the generator's state before the current noise chunk
    chunk_start: int  # the step that chunk starts at
    train_elbo: list[float]
    evaluations: list[tuple[int, float, float]]  # (step, validation ELBO, validation log-lik)
    snapshots: list[tuple[int, np.ndarray, np.ndarray]]  # (step, decoder, aligned decoder)
    train_seconds: float = 0.0
    ensemble_size: int = 1


class Member:
    """A config being trained: its checkpointable state plus its data and noise chunk."""

    def __init__(
        self, config: TrainConfig, checkpoint: Checkpoint | None = None, pause_at: int | None = None
    ):
        self.config = config
        self.pause_at = pause_at  # pause once this many steps are done (None: run to the end)
        self.status = "training"  # → completed | converged | diverged | stopped | paused
        self.finished_step: int | None = None
        self.diverged_reason = ""
        train_y, test_y = training_data(config)
        self.train_y, self.test_y = train_y.float(), test_y
        self.valid_y = validation_data(config)
        self.generator = torch.Generator()
        self.single = build_model([config])  # evaluations and snapshots use a lone copy
        if checkpoint is None:
            checkpoint = self._fresh_checkpoint()
        self.checkpoint = checkpoint  # filled in while outside a batch, stale inside one
        self.step = checkpoint.step
        self.train_elbo = list(checkpoint.train_elbo)
        self.evaluations = list(checkpoint.evaluations)
        self.snapshots = list(checkpoint.snapshots)
        self.train_seconds = checkpoint.train_seconds
        self.ensemble_size = checkpoint.ensemble_size
        self.generator.set_state(checkpoint.chunk_rng_state)
        self._draw_chunk(checkpoint.chunk_start)
        if self.step == 0 and not self.snapshots:
            self.snapshots.append((0, *_snapshot(self.single)))

    def _fresh_checkpoint(self) -> Checkpoint:
        weights = {k: v.clone() for k, v in self.single.state_dict().items()}
        size = sum(p.numel() for p in self.single.parameters())
        rng = torch.Generator().manual_seed(self.config.seed * NOISE_SEED_MULTIPLIER + NOISE_SEED_OFFSET)
        return Checkpoint(
            self.config, 0, weights, torch.zeros(size), torch.zeros(size), rng.get_state(), 0, [], [], []
        )

    def _draw_chunk(self, start: int) -> None:
        """The noise of the NOISE_CHUNK steps from `start` (a multiple of NOISE_CHUNK)."""
        self.chunk_start = start
        self.chunk_rng_state = self.generator.get_state()
        config = self.config
        shape = (NOISE_CHUNK, config.batch_size, self.single.samples_per_y(config.samples_per_component))
        self.noise = torch.randn(shape, generator=self.generator)
        self.indices = (
            torch.randint(config.n_train, shape[:2], generator=self.generator)
            if config.batch_size < config.n_train
            else None
        )

    def step_noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This step's ε and minibatch indices: a function of the member's seed and step alone."""
        if self.step - self.chunk_start >= NOISE_CHUNK:
            self._draw_chunk(self.step)
        offset = self.step - self.chunk_start
        return self.noise[offset], None if self.indices is None else self.indices[offset]

    @property
    def finished(self) -> bool:
        return self.status != "training"

    @property
    def max_steps(self) -> int:
        return self.config.steps

    def save(self, weights: dict, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor) -> Checkpoint:
        """Record this member's state (from its batch) as a checkpoint."""
        self.checkpoint = Checkpoint(
            self.config,
            self.step,
            {k: v.detach().cpu().clone() for k, v in weights.items()},
            exp_avg.cpu().clone(),
            exp_avg_sq.cpu().clone(),
            self.chunk_rng_state.clone(),
            self.chunk_start,
            list(self.train_elbo),
            list(self.evaluations),
            list(self.snapshots),
            self.train_seconds,
            self.ensemble_size,
        )
        return self.checkpoint

    def history(self) -> pd.DataFrame:
        """The history up to the member's last valid step (a diverged member's first bad one)."""
        last = self.finished_step if self.finished_step is not None else self.step
        steps = np.arange(1, last + 1)
        history = pd.DataFrame(
            {"step": steps, "train_elbo": np.asarray(self.train_elbo[:last], dtype=np.float64)}
        )
        history["validation_elbo"] = np.nan
        history["validation_log_likelihood"] = np.nan
        for eval_step, elbo, log_lik in self.evaluations:
            if eval_step <= last:
                history.loc[eval_step - 1, ["validation_elbo", "validation_log_likelihood"]] = (elbo, log_lik)
        return history

    def result(self) -> TrainResult:
        """The TrainResult of a finished (or stopped) member, from its checkpointed weights."""
        last = self.finished_step if self.finished_step is not None else self.step
        self.single.load_state_dict(self.checkpoint.weights)
        status = "stopped" if self.status in ("paused", "training") else self.status
        kept = [s for s in self.snapshots if s[0] <= last]
        if status != "diverged" and kept[-1][0] != last:
            kept.append((last, *_snapshot(self.single)))
        result = TrainResult(
            config=self.config,
            model=self.single,
            history=self.history(),
            snapshot_steps=np.array([s[0] for s in kept], dtype=np.int64),
            snapshot_decoder=np.array([s[1] for s in kept]).reshape(len(kept), len(SNAPSHOT_Z)),
            snapshot_aligned=np.array([s[2] for s in kept]).reshape(len(kept), len(SNAPSHOT_U)),
            status=status,
            steps_run=last,
            diverged_step=last if status == "diverged" else None,
            diverged_reason=self.diverged_reason,
            train_seconds=self.train_seconds,
            ensemble_size=self.ensemble_size,
        )
        if status != "diverged":
            result.metrics = evaluate(self.single, self.config, self.test_y)
        return result


# ----- the batched ensemble --------------------------------------------------------------------


class Ensemble:
    """Members sharing an ensemble_key, stepped together; members may join and leave between steps.

    While members stay the same their weights and Adam moments live in one flat (E × P) buffer
    (the model's parameters are views into it); a change of membership writes every member's
    row back into its checkpoint and stacks the buffer anew.
    """

    def __init__(self, key: tuple, device: str = "cpu"):
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
        """An up-to-date checkpoint of a member that stays in the batch."""
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
        width = -(-self.size // FLAT_ALIGN) * FLAT_ALIGN
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
        self._adam(
            flat_grad, [m.step + 1 for m in members], [learning_rate(m.config, m.step) for m in members]
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

    def _adam(self, grad: torch.Tensor, steps: list[int], lrs: list[float]) -> None:
        """torch.optim.Adam's update with each member's own step count and learning rate."""
        beta1, beta2 = ADAM_BETAS
        self.exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = torch.tensor(
            [lr / (1 - beta1**t) for lr, t in zip(lrs, steps, strict=True)], device=self.device
        ).unsqueeze(1)
        root_bias2 = torch.tensor([math.sqrt(1 - beta2**t) for t in steps], device=self.device).unsqueeze(1)
        denom = (self.exp_avg_sq.sqrt() / root_bias2).add_(ADAM_EPS)
        self.flat.sub_(self.exp_avg * step_size / denom)

    def _row_weights(self, row: int) -> dict[str, torch.Tensor]:
        return {k: v[row : row + 1] for k, v in self.model.state_dict().items()}

    def _bookkeep(self, member: Member, row: int) -> bool:
        """Divergence, evaluation, snapshot, early stop and pause of one member after its step."""
        config, done = member.config, member.step
        if done % DIVERGENCE_CHECK_EVERY == 0 or done == config.steps:
            weights_finite = bool(torch.isfinite(self.flat[row]).all())
            found = divergence_reason(member.train_elbo, config.noise_std, weights_finite)
            if found is not None:
                member.finished_step, member.diverged_reason = found
                member.status = "diverged"
                member.save(
                    self._row_weights(row), self.exp_avg[row, : self.size], self.exp_avg_sq[row, : self.size]
                )
                return True
        evaluate_now = done % config.eval_every == 0 or done == config.steps
        if evaluate_now or done in EARLY_SNAPSHOT_STEPS:
            member.single.load_state_dict(self._row_weights(row))
            member.snapshots.append((done, *_snapshot(member.single)))
        if evaluate_now:
            member.evaluations.append((done, *_evaluate_history(member.single, member.valid_y)))
            if config.early_stop and should_stop([e[1] for e in member.evaluations], done, config.steps):
                member.status = "converged"
        if member.status == "training" and done >= config.steps:
            member.status = "completed"
        if member.status == "training" and member.pause_at is not None and done >= member.pause_at:
            member.status = "paused"
        if member.finished:
            member.finished_step = done
            member.save(
                self._row_weights(row), self.exp_avg[row, : self.size], self.exp_avg_sq[row, : self.size]
            )
            return True
        return False

    def current_weights(self, member: Member) -> dict[str, torch.Tensor]:
        """A copy of the member's current single-member state dict (for live figures)."""
        if self._stacked is None:
            return {k: v.clone() for k, v in member.checkpoint.weights.items()}
        row = self._stacked.index(member)
        return {k: v.detach().cpu().clone() for k, v in self._row_weights(row).items()}


def learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from lr to lr · FINAL_LR_FRACTION over config.steps: big steps early, fine
    ones at the end (see vae_core.convergence)."""
    progress = min(step / max(config.steps - 1, 1), 1.0)
    floor = FINAL_LR_FRACTION
    return config.lr * (floor + (1 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


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


def build_model(configs: list[TrainConfig]) -> VAE:
    """An initialised ensemble with one member per config (all sharing shapes)."""
    first = configs[0]
    model = VAE(
        first.prior,
        first.posterior,
        first.n_components,
        first.hidden,
        [c.noise_std for c in configs],
        n_members=len(configs),
        bounded_scales=first.bounded_scales,
    )
    for member, config in enumerate(configs):
        model.reset_member(member, config.seed)
    return model


def _evaluate_history(model: VAE, valid_y: torch.Tensor) -> tuple[float, float]:
    """Exact validation ELBO and log-likelihood of a single-member model (so the numbers cannot
    depend on other members), on the same validation y: their difference is the inference gap
    on that data, with no Monte Carlo noise and no minibatches."""
    with torch.no_grad():
        elbo = exact.elbo(model, valid_y).mean().item()
        log_lik = exact.log_marginal(model, valid_y).mean().item()
    return elbo, log_lik


def _snapshot(model: VAE) -> tuple[np.ndarray, np.ndarray]:
    """The decoder of a single-member model on SNAPSHOT_Z and on the aligned SNAPSHOT_U."""
    with torch.no_grad():
        z = torch.as_tensor(SNAPSHOT_Z, dtype=torch.float32).unsqueeze(0)
        decoded = model.decode(z).double().numpy()[0]
        aligned = model.aligned_decoder(SNAPSHOT_U).numpy()[0]
    return decoded, aligned


# ----- in-process training (scripts, tests, the CLI) -------------------------------------------


def train(
    config: TrainConfig,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train one model. `should_stop()` returning True ends training, keeping what was learned."""
    return train_many([config], on_progress, should_stop)[0]


def train_many(
    configs: list[TrainConfig],
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[TrainResult]:
    """Train several configs; those sharing shapes (ensemble_key) run as one batch."""
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(config.ensemble_key(), []).append(index)
    results: list[TrainResult | None] = [None] * len(configs)
    progress = _ProgressMerger([max(configs[i].steps for i in idx) for idx in groups.values()], on_progress)
    # One torch thread per batch: these nets are dispatch-bound, and intra-op threads only add
    # contention (default 2 was 1.3× slower idle, up to 60× slower on a loaded machine).
    # Instead the batches run side by side, one per core (torch releases the GIL in ops).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def run(group_index: int, indices: list[int]) -> None:
        group = [configs[i] for i in indices]
        report = progress.reporter(group_index)
        for i, result in zip(indices, run_batch(group, report, should_stop), strict=True):
            results[i] = result

    try:
        workers = min(ENSEMBLES_IN_PARALLEL, len(groups))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run, g, idx) for g, idx in enumerate(groups.values())]
            for future in futures:
                future.result()
    finally:
        torch.set_num_threads(threads)
    return results


def run_batch(configs: list[TrainConfig], on_progress=None, should_stop=None) -> list[TrainResult]:
    """Train configs of one ensemble_key together until every one has finished."""
    members = [Member(c) for c in configs]
    batch = Ensemble(configs[0].ensemble_key())
    for member in members:
        batch.add(member)
    total = max(c.steps for c in configs)
    step = 0
    while len(batch):
        for member in batch.step():
            batch.remove(member)
        step += 1
        if on_progress is not None and (step % 25 == 0 or not len(batch)):
            on_progress(_progress(members, step, total))
        if should_stop is not None and len(batch) and should_stop():
            for member in list(batch.members):
                batch.remove(member)
                member.status = "stopped"
                member.finished_step = member.step
    return [m.result() for m in members]


def _progress(members: list[Member], step: int, total: int) -> Progress:
    elbo = np.full((step, len(members)), np.nan)
    for column, member in enumerate(members):
        values = member.train_elbo[:step]
        elbo[: len(values), column] = values
    return Progress(step, total, np.arange(1, step + 1), elbo, [m.config for m in members])


class _ProgressMerger:
    """Turns the progress of batches running side by side into one Progress for all configs."""

    def __init__(self, max_steps: list[int], on_progress):
        self.max_steps = max_steps  # of each batch, in the order of their group index
        self.on_progress = on_progress
        self.latest: dict[int, Progress] = {}
        self.lock = threading.Lock()

    def reporter(self, group_index: int):
        if self.on_progress is None:
            return None

        def report(progress: Progress) -> None:
            with self.lock:
                self.latest[group_index] = progress
                merged = self._merged()
            self.on_progress(merged)

        return report

    def _merged(self) -> Progress:
        parts = [self.latest[g] for g in sorted(self.latest)]
        if len(self.max_steps) == 1:
            return parts[0]
        rows = max(len(p.steps) for p in parts)
        columns = []
        for part in parts:
            padded = np.full((rows, part.train_elbo.shape[1]), np.nan)
            padded[: len(part.steps)] = part.train_elbo
            columns.append(padded)
        return Progress(
            step=sum(p.step for p in parts),
            total_steps=sum(self.max_steps),
            steps=np.arange(1, rows + 1),
            train_elbo=np.concatenate(columns, axis=1),
            configs=[c for p in parts for c in p.configs],
        )


def copy_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    return copy.deepcopy(checkpoint)
