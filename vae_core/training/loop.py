"""In-process training (scripts, tests, the CLI): configs grouped by ensemble_key, each group
trained as one Ensemble until every member has finished, the groups side by side on the cores.

The app trains through the training service instead, which runs the same Ensemble in worker
processes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from vae_core.config import TrainConfig
from vae_core.training.ensemble import Ensemble
from vae_core.training.member import Member, Progress, TrainResult

ENSEMBLES_IN_PARALLEL = max(1, os.cpu_count() or 1)  # one ensemble per core; see train_many
PROGRESS_EVERY = 25  # steps between on_progress calls


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
    """Train several configs; those of one ensemble_key train as one ensemble."""
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(config.ensemble_key(), []).append(index)
    results: list[TrainResult | None] = [None] * len(configs)
    progress = _ProgressMerger([max(configs[i].steps for i in idx) for idx in groups.values()], on_progress)
    # One torch thread per ensemble: these nets are dispatch-bound, and intra-op threads only
    # add contention (slower even on an idle machine, far slower on a loaded one). Instead the
    # ensembles run side by side, one per core (torch releases the GIL in ops).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def run(group_index: int, indices: list[int]) -> None:
        group = [configs[i] for i in indices]
        report = progress.reporter(group_index)
        for i, result in zip(indices, run_ensemble(group, report, should_stop), strict=True):
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


def run_ensemble(configs: list[TrainConfig], on_progress=None, should_stop=None) -> list[TrainResult]:
    """Train configs of one ensemble_key together until every one has finished."""
    members = [Member(c) for c in configs]
    ensemble = Ensemble(configs[0].ensemble_key())
    for member in members:
        ensemble.add(member)
    total = max(c.steps for c in configs)
    step = 0
    while len(ensemble):
        for member in ensemble.step():
            ensemble.remove(member)
        step += 1
        if on_progress is not None and (step % PROGRESS_EVERY == 0 or not len(ensemble)):
            on_progress(_progress(members, step, total))
        if should_stop is not None and len(ensemble) and should_stop():
            for member in list(ensemble.members):
                ensemble.remove(member)
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
