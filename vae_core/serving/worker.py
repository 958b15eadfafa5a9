"""The worker process: trains whatever the web server sends, every ensemble one step at a time,
round robin, and reports progress and results back (vae_core.serving.protocol).

`WorkerProcess` is the web server's handle on one; `worker_main` runs inside it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import sys
import time
import types
from pathlib import Path

import torch

from vae_core.cache import save_result
from vae_core.config import TrainConfig
from vae_core.serving.protocol import (
    Add,
    Command,
    Done,
    Drop,
    Dropped,
    Failed,
    Finish,
    Fork,
    Forked,
    Pause,
    PauseAt,
    Paused,
    Progress,
    Quit,
    Ready,
    Stop,
    Watch,
)
from vae_core.training import Checkpoint, Ensemble, Member

# s between progress messages of a member: 5 a second, with its current weights, for a request
# someone watches live; twice a second, without weights, otherwise (a class of 100 would
# otherwise send the web server 12 MB/s of weights nobody draws).
PROGRESS_INTERVAL = 0.2
PROGRESS_INTERVAL_QUIET = 0.5
# Workers run at a lower CPU priority than the web server, so pages stay quick while every
# core trains: training takes the time the server and the browsers leave.
WORKER_NICENESS = 10
PARENT_CHECK_EVERY = 1.0  # s between a worker's checks that its server still runs
WARM_UP_STEPS = 20


class WorkerProcess:
    """The web server's handle on one worker process (spawned at once)."""

    def __init__(self, context, index: int, outbox, cache_dir: Path):
        self.index = index
        self.inbox = context.Queue()
        self.process = context.Process(
            target=worker_main,
            args=(index, self.inbox, outbox, str(cache_dir)),
            name=f"vae-mog-lab-trainer-{index}",
            daemon=True,
        )
        with _plain_main_module():
            self.process.start()

    def send(self, command: Command) -> None:
        self.inbox.put(command)

    def is_alive(self) -> bool:
        return self.process.is_alive()

    @property
    def exit_code(self) -> int | None:
        return self.process.exitcode

    def quit(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.inbox.put(Quit())

    def join(self, timeout: float) -> None:
        self.process.join(timeout=timeout)
        if self.process.is_alive():
            self.process.kill()


@contextlib.contextmanager
def _plain_main_module():
    """Start a spawned process without re-running the parent's __main__ in it.

    `spawn` imports the parent's main module in the child; under `streamlit run` that module is
    the app script itself, so every worker would run app.py (pages, figures, Streamlit warnings)
    before training. An empty __main__ while the process starts avoids it.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


# ----- inside the worker process ---------------------------------------------------------------


def worker_main(index: int, inbox, outbox, cache_dir: str) -> None:
    torch.set_num_threads(1)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    seconds_per_step = warm_up(device)
    outbox.put(Ready(index, seconds_per_step))
    Worker(index, outbox, Path(cache_dir), device, seconds_per_step).run(inbox)


def warm_up(device: str) -> float:
    """A few steps of a default model: loads the kernels and measures a step (s).

    Then its final diagnostics, once: the first `metrics.evaluate` in a process is several
    times slower than later ones (lazy set-up, the ground truth's cached integrals at the
    default σ), which the first student to train would otherwise wait for.
    """
    member = Member(TrainConfig(steps=100, early_stop=False))
    ensemble = Ensemble(member.config.ensemble_key(), device)
    ensemble.add(member)
    started = time.perf_counter()
    for _ in range(WARM_UP_STEPS):
        ensemble.step()
    seconds_per_step = (time.perf_counter() - started) / WARM_UP_STEPS
    ensemble.remove(member)
    member.result()
    return seconds_per_step


class Worker:
    """The members this worker trains, by request id, in ensembles by shape."""

    def __init__(self, index: int, outbox, cache_dir: Path, device: str, seconds_per_step: float):
        self.index = index
        self.outbox = outbox
        self.cache_dir = cache_dir
        self.device = device
        self.per_step = seconds_per_step
        self.ensembles: dict[tuple, Ensemble] = {}
        self.members: dict[str, Member] = {}
        self.last_sent: dict[str, float] = {}
        self.sent_upto: dict[str, tuple[int, int]] = {}  # id -> (elbo values, evaluations) sent
        self.live: set[str] = set()  # requests whose progress carries the current weights
        self.quitting = False
        self.handlers = {
            Add: self._add,
            Finish: self._finish,
            PauseAt: self._pause_at,
            Watch: self._watch,
            Fork: self._fork,
            Pause: self._pause,
            Stop: self._stop,
            Drop: self._drop,
            Quit: self._quit,
        }

    def run(self, inbox) -> None:
        parent = mp.parent_process()
        checked_parent = time.monotonic()
        while True:
            if time.monotonic() - checked_parent >= PARENT_CHECK_EVERY:
                # A server killed outright (SIGKILL, a crash) cannot send Quit: without this
                # check its workers would train on, orphaned, taking the cores from everyone.
                if parent is not None and not parent.is_alive():
                    return
                checked_parent = time.monotonic()
            self.take_commands(inbox)
            if self.quitting:
                return
            if self.members:
                self.step_all()
                self.report_progress()

    def take_commands(self, inbox) -> None:
        """Every command waiting (waits up to PARENT_CHECK_EVERY s for one when idle)."""
        try:
            command = inbox.get_nowait() if self.members else inbox.get(timeout=PARENT_CHECK_EVERY)
        except queue.Empty:
            return
        while not self.quitting:
            self.handle(command)
            try:
                command = inbox.get_nowait()
            except queue.Empty:
                return

    def handle(self, command: Command) -> None:
        self.handlers[type(command)](command)

    def step_all(self) -> None:
        """One step of every ensemble; members that finished or paused leave it at once."""
        started = time.perf_counter()
        for key, ensemble in list(self.ensembles.items()):
            if not len(ensemble):
                del self.ensembles[key]
                continue
            for member in ensemble.step():
                rid = next(rid for rid, m in self.members.items() if m is member)
                ensemble.remove(member)
                del self.members[rid]
                self._send_progress(rid, member, ensemble, final=True)
                if member.status == "paused":
                    self.outbox.put(Paused(self.index, rid, ensemble.key, member.checkpoint))
                else:
                    self._send_result(rid, member, ensemble.key)
        self.per_step = 0.9 * self.per_step + 0.1 * (time.perf_counter() - started)

    def report_progress(self) -> None:
        now = time.monotonic()
        for rid, member in self.members.items():
            interval = PROGRESS_INTERVAL if rid in self.live else PROGRESS_INTERVAL_QUIET
            if now - self.last_sent.get(rid, 0.0) >= interval:
                self.last_sent[rid] = now
                ensemble = self.ensembles[member.config.ensemble_key()]
                self._send_progress(rid, member, ensemble, with_weights=rid in self.live)

    # ----- commands -----------------------------------------------------------------------------

    def _add(self, command: Add) -> None:
        if command.live:
            self.live.add(command.request)
        key = command.config.ensemble_key()
        try:
            member = Member(command.config, command.checkpoint, command.pause_at)
        except Exception as error:  # a bad checkpoint must not take the worker down
            self.outbox.put(Failed(self.index, command.request, key, f"{type(error).__name__}: {error}"))
            return
        if key not in self.ensembles:
            self.ensembles[key] = Ensemble(key, self.device)
        self.ensembles[key].add(member)
        self.members[command.request] = member
        self.sent_upto[command.request] = (0, 0)

    def _finish(self, command: Finish) -> None:
        member = Member(command.config, command.checkpoint)
        member.status = "stopped"
        self._send_result(command.request, member, command.config.ensemble_key())

    def _pause_at(self, command: PauseAt) -> None:
        if command.request in self.members:
            self.members[command.request].pause_at = command.step

    def _watch(self, command: Watch) -> None:
        self.live.add(command.request)

    def _fork(self, command: Fork) -> None:
        member = self.members.get(command.request)
        if member is not None:
            checkpoint = self.ensembles[member.config.ensemble_key()].checkpoint_of(member)
            self.outbox.put(Forked(self.index, command.fork, checkpoint))

    def _pause(self, command: Pause) -> None:
        left = self._leave(command.request)
        if left is not None:
            member, ensemble, checkpoint = left
            self.outbox.put(Paused(self.index, command.request, ensemble.key, checkpoint))

    def _stop(self, command: Stop) -> None:
        left = self._leave(command.request)
        if left is not None:
            member, ensemble, _ = left
            member.status = "stopped"
            member.finished_step = member.step
            self._send_result(command.request, member, ensemble.key)

    def _drop(self, command: Drop) -> None:
        left = self._leave(command.request)
        if left is not None:
            self.outbox.put(Dropped(self.index, command.request, left[1].key))

    def _quit(self, command: Quit) -> None:
        self.quitting = True

    def _leave(self, rid: str) -> tuple[Member, Ensemble, Checkpoint] | None:
        """Take a member out of its ensemble (None: it is not here, e.g. it just finished)."""
        member = self.members.get(rid)
        if member is None:
            return None
        ensemble = self.ensembles[member.config.ensemble_key()]
        checkpoint = ensemble.remove(member)
        del self.members[rid]
        return member, ensemble, checkpoint

    # ----- events -------------------------------------------------------------------------------

    def _send_progress(self, rid, member, ensemble, final=False, with_weights=True) -> None:
        sent_elbo, sent_evals = self.sent_upto.get(rid, (0, 0))
        start = min(sent_elbo, len(member.train_elbo))
        if final:
            weights = member.checkpoint.weights
        else:
            weights = ensemble.current_weights(member) if with_weights else None
        self.outbox.put(
            Progress(
                worker=self.index,
                request=rid,
                step=member.step,
                start=start,
                train_elbo=member.train_elbo[start:],
                evaluations=member.evaluations[sent_evals:],
                weights=weights,
                ensemble_size=len(ensemble.members) or 1,
                seconds_per_step=self.per_step,
            )
        )
        self.sent_upto[rid] = (len(member.train_elbo), len(member.evaluations))

    def _send_result(self, rid: str, member: Member, key: tuple) -> None:
        try:
            result = member.result()
            if result.status != "stopped":
                try:
                    save_result(result, self.cache_dir)
                except OSError:
                    pass  # a read-only disk only costs a retrain after a restart
            checkpoint = member.checkpoint if result.status == "stopped" else None
            self.outbox.put(Done(self.index, rid, key, result, checkpoint))
        except Exception as error:
            self.outbox.put(Failed(self.index, rid, key, f"{type(error).__name__}: {error}"))
