"""The training service: one per server process, shared by every session, training in worker
processes with continuous batching. No streamlit here (the app wraps it in st.cache_resource).

API (every method is thread-safe and returns at once; nothing here blocks on training):

    service = TrainingService(cache_dir, workers=1, max_ensemble=64, max_waiting=200)
    service.lookup(config) -> TrainResult | None      # memory, then cache dir, then presets
    service.pretrained(config) -> bool                # lookup's result is a shipped preset
    service.training(config) -> bool                  # queued or training for some session
    ticket = service.submit(config, session="s1")     # -> str; raises ServerBusy(message)
    service.status(ticket, live=False) -> Status      # small snapshot; also a heartbeat
    service.stop(ticket)          # freeze: a partial result ("stopped") for this session only
    service.pause(ticket)         # out of the ensemble with a Checkpoint; holds up nobody
    service.step(ticket, n)       # train n more steps from the checkpoint, then pause again
    service.resume(ticket)        # continue from the checkpoint (a paused or stopped run)
    service.release(ticket)       # the session is gone: drop its request unless others wait
    service.retry(ticket)         # submit a failed ticket's config again
    service.close()               # end the workers

Semantics:
- A config already cached gives a ticket that is "done" at once. A config queued or training
  for another session is joined (one training, several tickets). Each session has at most one
  ticket: submitting another config releases its previous one; submitting the config of its
  paused or stopped run resumes that run from its checkpoint.
- A member's numbers depend on its own config only (see vae_core.training), so a result is the
  same whatever trained beside it, and it goes to the shared cache.
- A paused run resumed (or stepped to its end) gives exactly the numbers of an uninterrupted
  run, so its result is cached like any other; a stopped run is never cached.
- More than max_waiting requests waiting: submit raises ServerBusy with a message for people.
- A worker that dies is restarted; the requests it held fail with a retryable message
  (status.retryable); anything cached, and paused checkpoints (kept here), are not lost.
- Workers train on CUDA when torch.cuda.is_available(), on CPU (one torch thread) otherwise.

The parts: scheduler.py (requests, queue, dispatch, ETA and messages), protocol.py (the typed
messages and states), worker.py (the worker process), leases.py (servers sharing a cache).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from vae_core.cache import entry_dir, lookup, presets_dir
from vae_core.config import TrainConfig
from vae_core.serving.leases import Leases
from vae_core.serving.protocol import Command, Status
from vae_core.serving.scheduler import DEFAULT_MAX_ENSEMBLE, DEFAULT_MAX_WAITING, Scheduler
from vae_core.serving.worker import WorkerProcess
from vae_core.training import TrainResult

WORKERS_ENV = "VAE_MOG_LAB_WORKERS"
# One worker per core, up to MAX_DEFAULT_WORKERS (each holds ~400 MB of torch); one on a GPU,
# which trains a whole class in one ensemble (benchmarks/RESULTS.md).
MAX_DEFAULT_WORKERS = 4
HOUSEKEEPING_EVERY = 1.0  # s between checks for dead workers, gone sessions, other servers


def default_workers() -> int:
    """VAE_MOG_LAB_WORKERS if set; else one per core (at most MAX_DEFAULT_WORKERS), 1 with CUDA."""
    if os.environ.get(WORKERS_ENV):
        return max(1, int(os.environ[WORKERS_ENV]))
    if torch.cuda.is_available():
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


class TrainingService:
    """See the module docstring."""

    def __init__(
        self,
        cache_dir: Path,
        workers: int | None = None,
        max_ensemble: int = DEFAULT_MAX_ENSEMBLE,
        max_waiting: int = DEFAULT_MAX_WAITING,
        read_only_dirs: tuple[Path, ...] | None = None,
        session_alive: Callable[[str], bool] | None = None,
    ):
        """read_only_dirs: result folders looked up after cache_dir (default: the presets).
        session_alive(session): whether a session's browser tab is still connected."""
        self.cache_dir = Path(cache_dir)
        self.read_only_dirs = (presets_dir(),) if read_only_dirs is None else tuple(read_only_dirs)
        self._lock = threading.RLock()
        self._closed = False
        self._context = mp.get_context("spawn")
        self._outbox = self._context.Queue()
        self._leases = Leases(self.cache_dir)
        self._workers = [self._start_worker(i) for i in range(workers or default_workers())]
        self._scheduler = Scheduler(
            [w.is_alive for w in self._workers],
            send=self._send,
            leases=self._leases,
            max_ensemble=max_ensemble,
            max_waiting=max_waiting,
            session_alive=session_alive,
        )
        self._reader = threading.Thread(target=self._read_loop, name="training-service", daemon=True)
        self._reader.start()

    # ----- the API ------------------------------------------------------------------------------

    def lookup(self, config: TrainConfig) -> TrainResult | None:
        key = config.key()
        with self._lock:
            if key in self._scheduler.results:
                return self._scheduler.results[key]
        found = lookup(config, [self.cache_dir, *self.read_only_dirs])
        if found is not None:
            with self._lock:
                self._scheduler.results.setdefault(key, found)
        return found

    def training(self, config: TrainConfig) -> bool:
        """Whether config is queued or training for some session: submit(config) joins it (a
        reloaded page finds its run by its config, having lost its session's tickets)."""
        with self._lock:
            return self._scheduler.training(config)

    def pretrained(self, config: TrainConfig) -> bool:
        """Whether lookup(config) serves a result shipped read-only (the presets): nothing
        trained it on this server, so a page must not say it trained now."""
        if entry_dir(config, self.cache_dir).exists():
            return False
        return any(entry_dir(config, d).exists() for d in self.read_only_dirs)

    def submit(self, config: TrainConfig, session: str = "") -> str:
        cached = self.lookup(config)
        with self._lock:
            return self._scheduler.submit(config, session, cached)

    def status(self, ticket_id: str, live: bool = False) -> Status:
        """The request's state now. live=True also asks for the member's current weights about
        5 times a second from now on (for live figures of the model as it learns)."""
        with self._lock:
            return self._scheduler.status(ticket_id, live)

    def stop(self, ticket_id: str) -> None:
        """Freeze this session's run; a partial result ("stopped") comes back for it alone."""
        with self._lock:
            self._scheduler.stop(ticket_id)

    def pause(self, ticket_id: str) -> None:
        with self._lock:
            self._scheduler.pause(ticket_id)

    def step(self, ticket_id: str, n: int) -> None:
        """Train n more steps (from a pause, or from now while training), then pause."""
        with self._lock:
            self._scheduler.step(ticket_id, n)

    def resume(self, ticket_id: str) -> None:
        with self._lock:
            self._scheduler.resume(ticket_id)

    def release(self, ticket_id: str) -> None:
        with self._lock:
            self._scheduler.release(ticket_id)

    def retry(self, ticket_id: str) -> str:
        """Submit a failed ticket's config again (from its last checkpoint if it had one)."""
        with self._lock:
            config, session = self._scheduler.owner_of(ticket_id)
            return self.submit(config, session)

    @property
    def jobs(self) -> list[str]:
        """Ids of the requests queued or training (empty when the service is idle)."""
        with self._lock:
            return self._scheduler.jobs

    def sessions_waiting(self) -> int:
        """Sessions whose request is queued or training (several may share one request)."""
        with self._lock:
            return self._scheduler.sessions_waiting()

    def ready(self) -> bool:
        """Every worker has started and warmed up."""
        with self._lock:
            return self._scheduler.ready()

    @property
    def trained(self) -> list[TrainConfig]:
        """Configs whose training finished here, in order (tests and benchmarks count them)."""
        return self._scheduler.trained

    @property
    def results(self) -> dict[str, TrainResult]:
        """Results known in memory, by config key (lookup reads it first)."""
        return self._scheduler.results

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._leases.release_all()
        with self._lock:
            starting = {slot.index for slot in self._scheduler.workers if not slot.ready}
        for worker in self._workers:
            worker.quit()
        for worker in self._workers:
            # A worker still warming up holds no request and reads its inbox only once warm:
            # waiting for it to see Quit would cost a server restart (or a test) seconds.
            worker.join(timeout=0 if worker.index in starting else 5)

    # ----- the worker processes -----------------------------------------------------------------

    def _start_worker(self, index: int) -> WorkerProcess:
        return WorkerProcess(self._context, index, self._outbox, self.cache_dir)

    def _send(self, index: int, command: Command) -> None:
        self._workers[index].send(command)

    def _read_loop(self) -> None:
        last_housekeeping = time.monotonic()
        while not self._closed:
            try:
                event = self._outbox.get(timeout=0.5)
            except queue.Empty:
                event = None
            except (OSError, EOFError, ValueError):
                return
            with self._lock:
                if event is not None:
                    self._scheduler.handle(event)
                if time.monotonic() - last_housekeeping > HOUSEKEEPING_EVERY:
                    last_housekeeping = time.monotonic()
                    self._housekeeping()

    def _housekeeping(self) -> None:
        self._restart_dead_workers()
        self._scheduler.drop_abandoned()
        self._leases.refresh()
        self._scheduler.check_elsewhere()

    def _restart_dead_workers(self) -> None:
        """A dead worker's requests fail (retryable) and a new worker takes its place."""
        for index, worker in enumerate(self._workers):
            if worker.is_alive() or self._closed:
                continue
            self._scheduler.worker_died(index, worker.exit_code)
            self._workers[index] = self._start_worker(index)
            self._scheduler.worker_started(index, self._workers[index].is_alive)
        self._scheduler.dispatch()
