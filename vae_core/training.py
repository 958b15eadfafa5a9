"""Training: maximise the ELBO with Adam, several configs at once as one batched ensemble.

Each member's initialisation, data and Monte Carlo noise come from its own seeds, its loss
touches only its own weights and Adam is elementwise, so a member trains the same whether it
is alone or in an ensemble (up to float rounding in batched matmuls). `train` is one config;
`train_many` groups configs that share shapes and trains each group in one loop.
"""

from __future__ import annotations

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

from vae_core import ground_truth
from vae_core.config import TrainConfig
from vae_core.metrics import evaluate
from vae_core.model import VAE

ENSEMBLES_IN_PARALLEL = max(1, os.cpu_count() or 1)  # one ensemble per core; see train_many
NOISE_CHUNK = 100  # steps of Monte Carlo noise drawn per member in one call
DIVERGENCE_CHECK_EVERY = 25
EXPLOSION_MISS = 5.0  # see _check_divergence
# Early stop: the validation ELBO (common random numbers, so no Monte Carlo jitter between
# evaluations) has not beaten its best by CONVERGENCE_TOLERANCE nats for CONVERGENCE_EVALS
# evaluations in a row. Patience matters: a MoG prior can sit on a plateau for a few hundred
# steps and then improve by 0.02 nats (measured, seed 1 at σ = 0.1).
CONVERGENCE_EVALS = 4
CONVERGENCE_TOLERANCE = 2e-3
VALIDATION_POINTS = 200  # held-out y (not the test set) for the history and the early stop
SNAPSHOT_Z = np.linspace(-3.0, 3.0, 121)
SNAPSHOT_U = (np.arange(100) + 0.5) / 100


@dataclass
class Progress:
    """What `on_progress` receives: enough to draw a live ELBO curve."""

    step: int
    total_steps: int
    steps: np.ndarray  # steps logged so far
    train_elbo: np.ndarray  # (len(steps), members) mean train ELBO per step
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
    train_seconds: float = 0.0  # wall time of the whole ensemble this member trained in
    ensemble_size: int = 1

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


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
    """Train several configs; those sharing shapes (all but seeds and σ) run as one ensemble."""
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(config.ensemble_key(), []).append(index)
    results: list[TrainResult | None] = [None] * len(configs)
    progress = _ProgressMerger([configs[idx[0]].steps for idx in groups.values()], on_progress)
    # One torch thread per ensemble: these nets are dispatch-bound, and intra-op threads only
    # add contention (default 2 was 1.3× slower idle, up to 60× slower on a loaded machine).
    # Instead the ensembles run side by side, one per core (torch releases the GIL in ops).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def run(group_index: int, indices: list[int]) -> None:
        group = [configs[i] for i in indices]
        report = progress.reporter(group_index)
        for i, result in zip(indices, _train_ensemble(group, report, should_stop)):
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


class _ProgressMerger:
    """Turns the progress of ensembles running side by side into one Progress for all configs."""

    def __init__(self, max_steps: list[int], on_progress):
        self.max_steps = max_steps  # of each ensemble, in the order of their group index
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


def training_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(train y, test y) of a config: fixed by data_seed, noise_std and the sizes."""
    _, train_y = ground_truth.sample(config.n_train, config.noise_std, config.data_seed)
    _, test_y = ground_truth.sample(config.n_test, config.noise_std, config.data_seed + 1_000_003)
    return train_y, test_y


def validation_data(config: TrainConfig) -> torch.Tensor:
    """Held-out y for the periodic evaluations and early stopping, disjoint from the test set,
    so the reported test metrics are not those of the data that chose when to stop."""
    _, valid_y = ground_truth.sample(VALIDATION_POINTS, config.noise_std,
                                     config.data_seed + 2_000_003)
    return valid_y


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
    )
    for member, config in enumerate(configs):
        model.reset_member(member, config.seed)
    return model


def learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from lr to lr/10 over config.steps: big steps early, fine ones at the end."""
    progress = min(step / max(config.steps - 1, 1), 1.0)
    return config.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


class _NoiseSource:
    """Per-member Monte Carlo noise and minibatch indices, drawn NOISE_CHUNK steps at a time."""

    def __init__(self, configs: list[TrainConfig], samples_per_y: int):
        self.generators = [torch.Generator().manual_seed(c.seed * 7919 + 17) for c in configs]
        self.batch_size = configs[0].batch_size
        self.n_train = configs[0].n_train
        self.samples_per_y = samples_per_y
        self.noise = self.indices = None

    def at(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        offset = step % NOISE_CHUNK
        if offset == 0:
            shape = (NOISE_CHUNK, self.batch_size, self.samples_per_y)
            self.noise = torch.stack([torch.randn(shape, generator=g) for g in self.generators], 1)
            if self.batch_size < self.n_train:
                self.indices = torch.stack(
                    [torch.randint(self.n_train, shape[:2], generator=g) for g in self.generators], 1
                )
        indices = None if self.indices is None else self.indices[offset]
        return self.noise[offset], indices


def _train_ensemble(configs, on_progress, should_stop) -> list[TrainResult]:
    started = time.perf_counter()
    first = configs[0]
    members = len(configs)
    model = build_model(configs)
    data = [training_data(c) for c in configs]
    train_y = torch.stack([d[0] for d in data]).float()
    test_y = torch.stack([d[1] for d in data])
    valid_y = torch.stack([validation_data(c) for c in configs])
    noise_source = _NoiseSource(configs, model.samples_per_y(first.samples_per_component))
    optimizer = torch.optim.Adam(model.parameters(), lr=first.lr, fused=True)

    elbo_log = torch.full((first.steps, members), math.nan)
    evaluations: list[tuple[int, np.ndarray, np.ndarray]] = []
    snapshots: list[tuple[int, np.ndarray, np.ndarray]] = []
    finished: dict[int, tuple[str, int, dict]] = {}  # member → (status, step, weights)
    diverged_reasons: dict[int, str] = {}
    user_stopped = False
    step = 0

    def freeze(member: int, status: str, at_step: int) -> None:
        weights = {k: v[member : member + 1].clone() for k, v in model.state_dict().items()}
        finished[member] = (status, at_step, weights)

    for step in range(first.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(first, step)
        noise, indices = noise_source.at(step)
        batch = train_y if indices is None else torch.gather(train_y, 1, indices)
        elbo = model.elbo(batch, noise).mean(dim=1)
        optimizer.zero_grad(set_to_none=True)
        (-elbo.sum()).backward()
        optimizer.step()
        elbo_log[step] = elbo.detach()

        done = step + 1
        if done % DIVERGENCE_CHECK_EVERY == 0 or done == first.steps:
            _check_divergence(model, elbo_log, step, finished, diverged_reasons, freeze)
        if done % first.eval_every == 0 or done == first.steps:
            evaluations.append((done, *_evaluate_history(model, valid_y)))
            snapshots.append((done, *_snapshot(model)))
            if first.early_stop:
                for member in _converged_members(evaluations, finished):
                    freeze(member, "converged", done)
        if on_progress is not None and (done % 25 == 0 or done == first.steps):
            on_progress(Progress(done, first.steps, np.arange(1, done + 1),
                                 elbo_log[:done].numpy().copy(), list(configs)))
        if len(finished) == members:
            break
        if should_stop is not None and should_stop():
            user_stopped = True
            break

    steps_run = step + 1
    if not snapshots or snapshots[-1][0] != steps_run:
        snapshots.append((steps_run, *_snapshot(model)))
    seconds = time.perf_counter() - started
    results = []
    for member, config in enumerate(configs):
        status, last_step, weights = finished.get(
            member, ("stopped" if user_stopped else "completed", steps_run, None)
        )
        single = model.member(member)
        if weights is not None:
            single.load_state_dict(weights)
        results.append(
            _member_result(config, single, member, last_step, status, elbo_log, evaluations,
                           snapshots, diverged_reasons.get(member, ""), test_y[member], seconds,
                           members)
        )
    return results


def _check_divergence(model, elbo_log, step, finished, reasons, freeze) -> None:
    """Mark members whose ELBO became non-finite or exploded, at the first bad step.

    Bounded scales keep the ELBO finite even when Adam blows up (lr = 10 sends it to ~−1e6
    without a NaN), so "diverged" also means an ELBO below −½(EXPLOSION_MISS/σ)²: the decoder
    misses y by EXPLOSION_MISS on average, 20× the data's whole range [0, 0.25]. Sound runs
    swing far less (at σ = 0.005 the first Adam step dips to −8e3, the threshold is −5e5).
    """
    start = max(0, step + 1 - DIVERGENCE_CHECK_EVERY)
    recent = elbo_log[start : step + 1]
    thresholds = -0.5 * (EXPLOSION_MISS / model.noise_std.squeeze(-1)) ** 2
    bad_rows = ~torch.isfinite(recent) | (recent < thresholds)
    for member in range(model.n_members):
        if member in finished:
            continue
        bad = torch.nonzero(bad_rows[:, member]).flatten()
        weights_bad = any(not torch.isfinite(p.detach()[member]).all() for p in model.parameters())
        if len(bad) == 0 and not weights_bad:
            continue
        first_bad = start + (bad[0].item() if len(bad) else len(recent) - 1)
        value = elbo_log[first_bad, member].item()
        if not math.isfinite(value):
            reasons[member] = f"the ELBO became {value} at step {first_bad + 1}"
        elif len(bad):
            reasons[member] = f"the ELBO exploded to {value:.3g} nats at step {first_bad + 1}"
        else:
            reasons[member] = f"a weight became non-finite by step {first_bad + 1}"
        freeze(member, "diverged", first_bad + 1)


def _converged_members(evaluations, finished) -> list[int]:
    if len(evaluations) <= CONVERGENCE_EVALS:
        return []
    elbos = np.stack([elbo for _, elbo, _ in evaluations])  # (evaluations, members)
    best_before = elbos[:-CONVERGENCE_EVALS].max(axis=0)
    best_recent = elbos[-CONVERGENCE_EVALS:].max(axis=0)
    stalled = ~(best_recent > best_before + CONVERGENCE_TOLERANCE)
    return [m for m in np.nonzero(stalled)[0].tolist() if m not in finished]


def _evaluate_history(model: VAE, valid_y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Validation ELBO (Monte Carlo, common random numbers) and exact log-likelihood per member."""
    with torch.no_grad():
        elbo = model.elbo_estimate(valid_y, n_samples=10).mean(dim=1).numpy()
        log_lik = model.log_marginal(valid_y).mean(dim=1).numpy()
    return elbo, log_lik


def _snapshot(model: VAE) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        z = torch.as_tensor(SNAPSHOT_Z, dtype=torch.float32).expand(model.n_members, -1)
        decoded = model.decode(z).double().numpy()
        aligned = model.aligned_decoder(SNAPSHOT_U).numpy()
    return decoded, aligned


def _member_result(config, single, member, last_step, status, elbo_log, evaluations, snapshots,
                   reason, test_y, seconds, ensemble_size) -> TrainResult:
    steps = np.arange(1, last_step + 1)
    history = pd.DataFrame({"step": steps, "train_elbo": elbo_log[:last_step, member].double().numpy()})
    history["validation_elbo"] = np.nan
    history["validation_log_likelihood"] = np.nan
    for eval_step, elbos, log_liks in evaluations:
        if eval_step <= last_step:
            history.loc[eval_step - 1, ["validation_elbo", "validation_log_likelihood"]] = (
                elbos[member], log_liks[member])
    kept = [s for s in snapshots if s[0] <= last_step]
    result = TrainResult(
        config=config,
        model=single,
        history=history,
        snapshot_steps=np.array([s[0] for s in kept], dtype=np.int64),
        snapshot_decoder=np.array([s[1][member] for s in kept]).reshape(len(kept), len(SNAPSHOT_Z)),
        snapshot_aligned=np.array([s[2][member] for s in kept]).reshape(len(kept), len(SNAPSHOT_U)),
        status=status,
        steps_run=last_step,
        diverged_step=last_step if status == "diverged" else None,
        diverged_reason=reason,
        train_seconds=seconds,
        ensemble_size=ensemble_size,
    )
    if status != "diverged":
        result.metrics = evaluate(single, config, test_y)
    return result
