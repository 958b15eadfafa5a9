"""The training service: one per server process, shared by every session, training in worker
processes with continuous batching. No streamlit here (the app wraps it in st.cache_resource).

API (every method is thread-safe and returns at once; nothing here blocks on training):

    service = TrainingService(cache_dir, workers=1, max_batch=64, max_waiting=200)
    service.lookup(config) -> TrainResult | None      # memory, then cache dir, then presets
    ticket = service.submit(config, session="s1")     # -> str; raises ServerBusy(message)
    service.status(ticket, live=False) -> Status      # small snapshot; also a heartbeat
    service.stop(ticket)          # freeze: a partial result ("stopped") for this session only
    service.pause(ticket)         # out of the batch with a Checkpoint; holds up nobody
    service.step(ticket, n)       # train n more steps from the checkpoint, then pause again
    service.resume(ticket)        # continue from the checkpoint (a paused or stopped run)
    service.release(ticket)       # the session is gone: drop its request unless others wait
    service.close()               # end the workers

Semantics:
- A config already cached gives a ticket that is "done" at once. A config queued or training
  for another session is joined (one training, several tickets). Each session has at most one
  ticket: submitting another config releases its previous one; submitting the config of its
  paused or stopped run resumes that run from its checkpoint.
- Whenever a worker has room it takes waiting requests; requests of equal shapes (ensemble_key)
  join a batch that is already running (continuous batching, up to max_batch members per
  worker). A member's numbers depend on its own config only (see vae_core.training), so a
  result is the same whatever trained beside it, and it goes to the shared cache.
- pause / stop / step on a request that other sessions share never touches them: the session
  gets a private copy (a fork of the checkpoint) and the shared training goes on.
- A paused run resumed (or stepped to its end) gives exactly the numbers of an uninterrupted
  run, so its result is cached like any other; a stopped run is never cached.
- More than max_waiting requests waiting: submit raises ServerBusy with a message for people.
- A worker that dies is restarted; the requests it held fail with a retryable message
  (status.retryable); anything cached, and paused checkpoints (kept here), are not lost.
- Workers train on CUDA when torch.cuda.is_available(), on CPU (one torch thread) otherwise.

Status fields: state ("starting" | "queued" | "training" | "paused" | "done" | "failed" |
"released"), step, max_steps, queue_position (1 = next; 0 when not waiting), batch_size,
eta_seconds, message (one sentence for people), train_elbo (float32 per step so far),
evaluations ((step, validation ELBO, validation log-likelihood), ...), weights (the member's
current single-member state dict on CPU: refreshed about every PROGRESS_INTERVAL s once a
status(ticket, live=True) asked for it, else only at pauses and the end),
result (TrainResult once done), retryable, version (grows with every change).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import os
import queue
import socket
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vae_core.cache import lookup, presets_dir, save_result
from vae_core.config import TrainConfig
from vae_core.training import Checkpoint, Ensemble, Member, TrainResult

# s between progress messages of a member: 5 a second, with its current weights, for a request
# someone watches live (status(ticket, live=True)); twice a second, without weights, otherwise
# (a class of 100 would otherwise send the web server 12 MB/s of weights nobody draws).
PROGRESS_INTERVAL = 0.2
PROGRESS_INTERVAL_QUIET = 0.5
ABANDONED_AFTER = 60.0  # s without a status() call: the session is gone (tab closed)
GONE_GRACE = 10.0  # s a session reported gone by session_alive keeps its request (a reload)
CLAIM_STALE_AFTER = 30.0  # s: a claim its server stopped refreshing is abandoned (see _claim)
CLAIMS_FOLDER = ".claims"
PAUSED_KEPT_FOR = 3600.0  # s a paused checkpoint nobody looks at is kept
DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_WAITING = 200
# Until a worker has measured itself: seconds per batched step (about 1 ms on one idle core).
INITIAL_SECONDS_PER_STEP = 1.5e-3
WORKERS_ENV = "VAE_MOG_LAB_WORKERS"
# One worker per core, up to MAX_DEFAULT_WORKERS (each holds ~400 MB of torch); one on a GPU,
# which trains a whole class in one batch. Measured on 2 cores: benchmarks/RESULTS.md.
MAX_DEFAULT_WORKERS = 4
# Workers run at a lower CPU priority than the web server, so pages stay quick while every
# core trains: training takes the time the server and the browsers leave.
WORKER_NICENESS = 10
PARENT_CHECK_EVERY = 1.0  # s between a worker's checks that its server still runs

ACTIVE = ("starting", "queued", "training")


class ServerBusy(Exception):
    """The queue is full; str(error) is the message to show."""


@dataclass(frozen=True)
class Status:
    ticket: str
    config: TrainConfig
    state: str
    step: int = 0
    max_steps: int = 0
    queue_position: int = 0
    batch_size: int = 0
    eta_seconds: float | None = None
    message: str = ""
    train_elbo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    evaluations: tuple = ()
    weights: dict | None = None
    result: TrainResult | None = None
    retryable: bool = False
    version: int = 0


class _Request:
    """One training run (a config, or a session's private fork of one)."""

    _ids = itertools.count(1)

    def __init__(self, config: TrainConfig, private: bool = False):
        self.id = f"r{next(self._ids)}"
        self.config = config
        self.private = private
        self.state = "queued"
        self.tickets: set[str] = set()
        self.worker: int | None = None
        self.checkpoint: Checkpoint | None = None
        self.pause_at: int | None = None
        self.step = 0
        self.train_elbo: list[float] = []
        self.evaluations: list[tuple] = []
        self.weights: dict | None = None
        self.result: TrainResult | None = None
        self.message = ""
        self.retryable = False
        self.batch_size = 0
        self.queued_at = time.monotonic()
        self.version = 0
        self.after_checkpoint: tuple | None = None  # (action, n) once a fork's checkpoint comes
        self.live = False  # someone draws this request live: progress carries its weights

    def restore_from(self, checkpoint: Checkpoint | None) -> None:
        self.checkpoint = checkpoint
        if checkpoint is not None:
            self.step = checkpoint.step
            self.train_elbo = list(checkpoint.train_elbo)
            self.evaluations = [tuple(e) for e in checkpoint.evaluations]
            self.weights = {k: v.clone() for k, v in checkpoint.weights.items()}


@dataclass
class _Ticket:
    id: str
    session: str
    request: _Request
    last_seen: float = field(default_factory=time.monotonic)
    released: bool = False


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
        max_batch: int = DEFAULT_MAX_BATCH,
        max_waiting: int = DEFAULT_MAX_WAITING,
        read_only_dirs=None,
        session_alive: Callable[[str], bool] | None = None,
    ):
        self.cache_dir = Path(cache_dir)
        # session_alive(session) tells whether a session (its browser tab) is still connected;
        # without it a session is gone ABANDONED_AFTER s after its last status() call.
        self.session_alive = session_alive
        self.claims: set[str] = set()  # config keys this server is training for every server
        self.elsewhere: list[_Request] = []  # requests another server is training
        self.read_only_dirs = (presets_dir(),) if read_only_dirs is None else tuple(read_only_dirs)
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.results: dict[str, TrainResult] = {}  # config key → result, every session's
        self.lock = threading.RLock()
        self.requests: dict[str, _Request] = {}
        self.tickets: dict[str, _Ticket] = {}
        self.by_session: dict[str, str] = {}
        self.waiting: list[_Request] = []
        self.trained: list[TrainConfig] = []  # configs whose training finished here, in order
        self.seconds_per_step: dict[int, float] = {}
        self._ticket_ids = itertools.count(1)
        self._context = mp.get_context("spawn")
        self._outbox = self._context.Queue()
        self._workers: list[_Worker] = []
        self._closed = False
        for index in range(workers or default_workers()):
            self._workers.append(self._start_worker(index))
        self._reader = threading.Thread(target=self._read_loop, name="training-service", daemon=True)
        self._reader.start()

    # ----- public API -------------------------------------------------------------------------

    def lookup(self, config: TrainConfig) -> TrainResult | None:
        key = config.key()
        with self.lock:
            if key in self.results:
                return self.results[key]
        found = lookup(config, [self.cache_dir, *self.read_only_dirs])
        if found is not None:
            with self.lock:
                self.results.setdefault(key, found)
        return found

    get = lookup  # the name the pages used for the old result store

    def submit(self, config: TrainConfig, session: str = "") -> str:
        cached = self.lookup(config)
        with self.lock:
            previous = self.by_session.get(session) if session else None
            if previous is not None:
                ticket = self.tickets[previous]
                request = ticket.request
                if request.config.key() == config.key() and not ticket.released:
                    ticket.last_seen = time.monotonic()
                    if request.state in ACTIVE:
                        return ticket.id
                    if self._continuable(request):  # Train on a paused or stopped run
                        self.resume(ticket.id)
                        return ticket.id
                self._release(ticket)
            if cached is not None:
                request = _Request(config)
                request.state, request.result, request.step = "done", cached, cached.steps_run
                return self._new_ticket(session, request)
            request = next(
                (
                    r
                    for r in self.requests.values()
                    if r.config.key() == config.key() and not r.private and r.state in ACTIVE
                ),
                None,
            )
            if request is None:
                if len(self.waiting) >= self.max_waiting:
                    raise ServerBusy(self._busy_message())
                request = _Request(config)
                self.requests[request.id] = request
                self._enqueue(request)
            return self._new_ticket(session, request)

    def status(self, ticket_id: str, live: bool = False) -> Status:
        """The request's state now. live=True also asks for the member's current weights about
        every PROGRESS_INTERVAL s from now on (for live figures of the model as it learns)."""
        with self.lock:
            ticket = self.tickets[ticket_id]
            ticket.last_seen = time.monotonic()
            request = ticket.request
            if live and not request.live:
                request.live = True
                if request.state in ("training", "starting"):
                    self._send(request.worker, ("live", request.id))
            if ticket.released:
                return Status(ticket_id, request.config, "released", message="Released.")
            position = self.waiting.index(request) + 1 if request in self.waiting else 0
            eta = self._eta(request, position)
            return Status(
                ticket=ticket_id,
                config=request.config,
                state=request.state,
                step=request.step,
                max_steps=request.config.steps,
                queue_position=position,
                batch_size=request.batch_size,
                eta_seconds=eta,
                message=self._message(request, position, eta),
                train_elbo=np.asarray(request.train_elbo, dtype=np.float32),
                evaluations=tuple(request.evaluations),
                weights=request.weights,
                result=request.result,
                retryable=request.retryable,
                version=request.version,
            )

    def stop(self, ticket_id: str) -> None:
        """Freeze this session's run; a partial result ("stopped") comes back for it alone."""
        with self.lock:
            ticket = self.tickets[ticket_id]
            request = self._own(ticket, "stop")
            if request is None:
                return
            if request.state == "queued":
                self._dequeue(request)
                self._finish_paused(request)
            elif request.state in ("training", "starting"):
                self._send(request.worker, ("checkpoint", request.id, request.id, "stop"))
                request.after_checkpoint = "stop"
            elif request.state == "paused":
                self._finish_paused(request)

    def pause(self, ticket_id: str) -> None:
        with self.lock:
            ticket = self.tickets[ticket_id]
            request = self._own(ticket, "pause")
            if request is None:
                return
            if request.state == "queued":
                self._dequeue(request)
                self._set(request, state="paused")
            elif request.state in ("training", "starting"):
                self._send(request.worker, ("checkpoint", request.id, request.id, "pause"))
                request.after_checkpoint = "pause"

    def step(self, ticket_id: str, n: int) -> None:
        """Train n more steps (from a pause, or from now while training), then pause."""
        n = max(1, int(n))
        with self.lock:
            ticket = self.tickets[ticket_id]
            request = self._own(ticket, "step", n)
            if request is None:
                return
            if request.state == "training":
                request.pause_at = request.step + n
                self._send(request.worker, ("pause_at", request.id, request.pause_at))
            elif request.state == "paused" or (request.state == "done" and request.checkpoint):
                request.pause_at = request.step + n
                self._requeue(request)

    def resume(self, ticket_id: str) -> None:
        with self.lock:
            ticket = self.tickets[ticket_id]
            request = self._own(ticket, "resume")
            if request is None:
                return
            if self._continuable(request):
                request.pause_at = None
                self._requeue(request)
            elif request.state == "training" and request.pause_at is not None:
                request.pause_at = None
                self._send(request.worker, ("pause_at", request.id, None))

    @staticmethod
    def _continuable(request: _Request) -> bool:
        """Paused, or stopped with a checkpoint: resume continues it (never from scratch)."""
        stopped = (
            request.state == "done"
            and request.checkpoint is not None
            and request.result is not None
            and request.result.status == "stopped"
        )
        return request.state == "paused" or stopped

    def release(self, ticket_id: str) -> None:
        with self.lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is not None:
                self._release(ticket)

    def retry(self, ticket_id: str) -> str:
        """Submit a failed ticket's config again (from its last checkpoint if it had one)."""
        with self.lock:
            ticket = self.tickets[ticket_id]
            return self.submit(ticket.request.config, ticket.session)

    @property
    def jobs(self) -> list[str]:
        """Ids of the requests queued or training (empty when the service is idle)."""
        with self.lock:
            return [r.id for r in self.requests.values() if r.state in ACTIVE]

    def sessions_waiting(self) -> int:
        """Sessions whose request is queued or training (several may share one request)."""
        with self.lock:
            return sum(1 for t in self.tickets.values() if not t.released and t.request.state in ACTIVE)

    def ready(self) -> bool:
        return all(w.ready for w in self._workers)

    def close(self) -> None:
        self._closed = True
        with self.lock:
            for key in list(self.claims):  # other servers need not wait for them to go stale
                try:
                    (self.cache_dir / CLAIMS_FOLDER / key).unlink()
                except OSError:
                    pass
            self.claims.clear()
        for worker in self._workers:
            try:
                worker.inbox.put(("quit",))
            except (OSError, ValueError):
                pass
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()

    # ----- requests ---------------------------------------------------------------------------

    def _new_ticket(self, session: str, request: _Request) -> str:
        ticket = _Ticket(f"t{next(self._ticket_ids)}", session, request)
        self.tickets[ticket.id] = ticket
        request.tickets.add(ticket.id)
        if session:
            self.by_session[session] = ticket.id
        return ticket.id

    def _own(self, ticket: _Ticket, action: str, n: int = 0) -> _Request | None:
        """The request this ticket alone controls: a shared one is forked for it first."""
        request = ticket.request
        if ticket.released or request.state in ("failed", "released", "forking"):
            return None
        if request.state == "done" and request.checkpoint is None:
            return None
        others = request.tickets - {ticket.id}
        if not others or request.private:
            request.private = True
            return request
        fork = _Request(request.config, private=True)
        fork.restore_from(request.checkpoint)
        fork.train_elbo, fork.step = list(request.train_elbo), request.step
        fork.weights = request.weights
        self.requests[fork.id] = fork
        request.tickets.discard(ticket.id)
        fork.tickets.add(ticket.id)
        ticket.request = fork
        if request.state == "training":
            # The worker copies the running member's checkpoint into the fork; the action
            # runs once it has arrived (see _handle, "forked").
            fork.state = "forking"
            fork.after_checkpoint = (action, n)
            self._send(request.worker, ("checkpoint", request.id, fork.id, "fork"))
            return None
        fork.state = "paused" if request.state == "paused" else "queued"
        if fork.state == "queued":
            self._enqueue(fork)
        return fork

    def _release(self, ticket: _Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        request = ticket.request
        request.tickets.discard(ticket.id)
        if self.by_session.get(ticket.session) == ticket.id:
            del self.by_session[ticket.session]
        if request.tickets:
            return
        if request.state == "training" or request.state == "starting":
            self._send(request.worker, ("checkpoint", request.id, request.id, "drop"))
            return  # popped when the worker confirms ("dropped")
        self._dequeue(request)
        self._set(request, state="released")
        self.requests.pop(request.id, None)

    def _enqueue(self, request: _Request) -> None:
        request.queued_at = time.monotonic()
        self._set(request, state="queued", worker=None)
        self.waiting.append(request)
        self._dispatch()

    def _requeue(self, request: _Request) -> None:
        request.result = None
        self.requests[request.id] = request
        self._enqueue(request)

    def _dequeue(self, request: _Request) -> None:
        if request in self.waiting:
            self.waiting.remove(request)

    def _finish_paused(self, request: _Request) -> None:
        """A stopped run that is not training: its result is built from its checkpoint."""
        worker = self._least_loaded()
        self._set(request, state="training", worker=worker.index)
        worker.members += 1
        self._send(worker.index, ("finish", request.id, request.config, request.checkpoint))

    def _set(self, request: _Request, **values) -> None:
        for name, value in values.items():
            setattr(request, name, value)
        request.version += 1
        if request.state not in ACTIVE:
            self._unclaim(request)

    # ----- scheduling -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Give waiting requests to workers with room: a batch of equal shapes first."""
        for request in list(self.waiting):
            key = request.config.ensemble_key()
            ready = [w for w in self._workers if w.alive and w.members < self.max_batch]
            if not ready:
                return
            if not request.private and not self._claim(request.config):
                self.waiting.remove(request)
                self.elsewhere.append(request)
                self._set(request, state="queued", message="")
                continue
            # The least loaded worker, so every core trains; of equals, one already running
            # this shape (the request joins that batch instead of starting another).
            worker = min(ready, key=lambda w: (w.members, key not in w.keys))
            self.waiting.remove(request)
            worker.members += 1
            worker.keys[key] = worker.keys.get(key, 0) + 1
            self._set(request, state="training" if worker.ready else "starting", worker=worker.index)
            self._send(
                worker.index,
                ("add", request.id, request.config, request.checkpoint, request.pause_at, request.live),
            )

    def _least_loaded(self) -> _Worker:
        return sorted((w for w in self._workers if w.alive), key=lambda w: w.members)[0]

    def _eta(self, request: _Request, position: int) -> float | None:
        if request.state in ("training", "starting"):
            worker = self._workers[request.worker]
            per_step = worker.seconds_per_step or INITIAL_SECONDS_PER_STEP
            startup = 0.0 if worker.ready else worker.startup_left()
            return startup + (request.config.steps - request.step) * per_step
        if request.state == "queued":
            remaining = sorted(
                self._eta(r, 0) or 0.0 for r in self.requests.values() if r.state == "training"
            )
            wait = remaining[min(position, len(remaining)) - 1] if remaining else 0.0
            per_step = max(
                (w.seconds_per_step for w in self._workers if w.seconds_per_step),
                default=INITIAL_SECONDS_PER_STEP,
            )
            return wait + request.config.steps * per_step
        return None

    def _message(self, request: _Request, position: int, eta: float | None) -> str:
        if request.state == "starting":
            return f"The training service is starting; your model follows, about {eta:.0f} s."
        if request.state == "queued" and request in self.elsewhere:
            return "Another server of this class is training this model; it appears here when done."
        if request.state == "queued":
            return (
                f"Waiting: {position} of {len(self.waiting)} in the queue, all workers are "
                f"full; about {eta:.0f} s in all."
            )
        if request.state == "training":
            others = request.batch_size - 1
            beside = f" in one batch with {others} other model{'s' * (others != 1)}" if others > 0 else ""
            return (
                f"Training{beside}: step {request.step} of at most {request.config.steps}, "
                f"about {eta:.0f} s left at most."
            )
        if request.state == "paused":
            return f"Paused at step {request.step}."
        return request.message

    def _busy_message(self) -> str:
        per_step = max(
            (w.seconds_per_step for w in self._workers if w.seconds_per_step),
            default=INITIAL_SECONDS_PER_STEP,
        )
        wait = len(self.waiting) * TrainConfig().steps * per_step / max(1, len(self._workers))
        return (
            f"The class server is busy: {len(self.waiting)} models are waiting ahead of "
            f"yours. Try again in ~{max(5, round(wait))} s."
        )

    # ----- workers ----------------------------------------------------------------------------

    def _start_worker(self, index: int) -> _Worker:
        inbox = self._context.Queue()
        process = self._context.Process(
            target=worker_main,
            args=(index, inbox, self._outbox, str(self.cache_dir)),
            name=f"vae-mog-lab-trainer-{index}",
            daemon=True,
        )
        with _plain_main_module():
            process.start()
        return _Worker(index, process, inbox)

    def _send(self, index: int | None, message: tuple) -> None:
        if index is not None:
            self._workers[index].inbox.put(message)

    def _read_loop(self) -> None:
        last_janitor = time.monotonic()
        while not self._closed:
            try:
                message = self._outbox.get(timeout=0.5)
            except queue.Empty:
                message = None
            except (OSError, EOFError, ValueError):
                return
            with self.lock:
                if message is not None:
                    self._handle(message)
                if time.monotonic() - last_janitor > 1.0:
                    last_janitor = time.monotonic()
                    self._check_workers()
                    self._drop_abandoned()
                    self._refresh_claims()
                    self._check_elsewhere()

    def _handle(self, message: tuple) -> None:
        kind, index = message[0], message[1]
        worker = self._workers[index]
        if kind == "ready":
            worker.ready = True
            worker.seconds_per_step = message[2]
            for request in self.requests.values():
                if request.worker == index and request.state == "starting":
                    self._set(request, state="training")
            return
        request = self.requests.get(message[2])
        if kind == "progress":
            _, _, _, step, start, elbo, evaluations, weights, batch_size, per_step = message
            worker.seconds_per_step = per_step
            if request is None or request.state != "training":
                return
            del request.train_elbo[start:]
            request.train_elbo.extend(elbo)
            request.evaluations = [e for e in request.evaluations if e[0] <= start]
            request.evaluations.extend(evaluations)
            request.step, request.batch_size = step, batch_size
            if weights is not None:
                request.weights = weights
            request.version += 1
        elif kind in ("done", "paused"):
            self._member_left(worker, message[3])
            if request is None:
                if kind == "done" and message[4].status != "stopped":
                    self.results[message[4].config.key()] = message[4]
                    self._unclaim(_Request(message[4].config))
                self._dispatch()
                return
            if kind == "paused":
                request.restore_from(message[4])
                self._set(request, state="paused", pause_at=None, worker=None)
            else:
                result, checkpoint = message[4], message[5]
                request.restore_from(checkpoint)  # kept only for a stopped run (to continue it)
                self._set(
                    request, state="done", result=result, worker=None, step=result.steps_run, message=""
                )
                if result.status != "stopped":
                    self.results[request.config.key()] = result
                    self.trained.append(request.config)
                if not request.tickets:
                    self.requests.pop(request.id, None)
            self._dispatch()
        elif kind == "forked":
            fork = request
            if fork is None:
                return
            fork.restore_from(message[4])
            self._set(fork, state="paused", worker=None)
            (action, n), fork.after_checkpoint = fork.after_checkpoint, None
            if action == "stop":
                self._finish_paused(fork)
            elif action == "step":
                fork.pause_at = fork.step + n
                self._requeue(fork)
        elif kind == "dropped":
            self._member_left(worker, message[3])
            if request is not None:
                self._set(request, state="released", worker=None)
                self.requests.pop(request.id, None)
            self._dispatch()
        elif kind == "failed":
            self._member_left(worker, message[3])
            if request is not None:
                self._set(
                    request,
                    state="failed",
                    worker=None,
                    retryable=True,
                    message=f"Training failed ({message[4]}). Press Train to try again.",
                )
            self._dispatch()

    def _member_left(self, worker: _Worker, key: tuple) -> None:
        worker.members = max(0, worker.members - 1)
        if key in worker.keys:
            worker.keys[key] -= 1
            if worker.keys[key] <= 0:
                del worker.keys[key]

    def _check_workers(self) -> None:
        """Restart a dead worker; fail the requests it held (they can be retried)."""
        for index, worker in enumerate(self._workers):
            if worker.process.is_alive() or self._closed:
                continue
            code = worker.process.exitcode
            for request in self.requests.values():
                if request.worker == index and request.state in ("training", "starting"):
                    self._set(
                        request,
                        state="failed",
                        worker=None,
                        retryable=True,
                        message=f"The training worker stopped unexpectedly (exit code "
                        f"{code}); nothing cached was lost. Press Train to try "
                        "again.",
                    )
            self._workers[index] = self._start_worker(index)
        self._dispatch()

    def _drop_abandoned(self) -> None:
        now = time.monotonic()
        for ticket in list(self.tickets.values()):
            if ticket.released:
                continue
            idle = now - ticket.last_seen
            if ticket.request.state not in ACTIVE:
                gone = idle > PAUSED_KEPT_FOR
            elif self.session_alive is not None:
                gone = idle > GONE_GRACE and not self.session_alive(ticket.session)
            else:
                gone = idle > ABANDONED_AFTER
            if gone:
                self._release(ticket)

    # ----- several servers sharing one cache directory ----------------------------------------
    #
    # App replicas behind a proxy share the cache folder. Before training a config a server
    # claims it with a file created exclusively (O_EXCL, atomic on local and NFSv3+ volumes) in
    # <cache>/.claims/, refreshes the claim's time while training and removes it when done.
    # Another server asking for the same config waits for the result to appear in the cache
    # instead of training it again; a claim not refreshed for CLAIM_STALE_AFTER s (its server
    # died) is taken over.

    def _claim_path(self, config: TrainConfig) -> Path:
        return self.cache_dir / CLAIMS_FOLDER / config.key()

    def _claim(self, config: TrainConfig) -> bool:
        key = config.key()
        if key in self.claims:
            return True
        path = self._claim_path(config)
        for _ in range(2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    stale = time.time() - path.stat().st_mtime > CLAIM_STALE_AFTER
                except OSError:
                    stale = True  # removed meanwhile: try again
                if not stale:
                    return False
                try:
                    path.unlink()
                except OSError:
                    pass
                continue
            except OSError:
                return True  # an unwritable cache: no coordination, train here
            with os.fdopen(descriptor, "w") as claim:
                claim.write(f"{socket.gethostname()} {os.getpid()}\n")
            self.claims.add(key)
            return True
        return False

    def _unclaim(self, request: _Request) -> None:
        key = request.config.key()
        if key in self.claims and not any(
            r is not request and r.config.key() == key and r.state in ACTIVE for r in self.requests.values()
        ):
            self.claims.discard(key)
            try:
                self._claim_path(request.config).unlink()
            except OSError:
                pass

    def _refresh_claims(self) -> None:
        now = time.time()
        for key in list(self.claims):
            try:
                os.utime(self.cache_dir / CLAIMS_FOLDER / key, (now, now))
            except OSError:
                pass

    def _check_elsewhere(self) -> None:
        """Requests another server trains: done once its result is cached, ours if it died."""
        for request in list(self.elsewhere):
            if not request.tickets:
                self.elsewhere.remove(request)
                self._set(request, state="released")
                self.requests.pop(request.id, None)
                continue
            found = lookup(request.config, [self.cache_dir])
            if found is not None:
                self.elsewhere.remove(request)
                self.results[request.config.key()] = found
                self._set(request, state="done", result=found, step=found.steps_run)
            elif self._claim(request.config):
                self.elsewhere.remove(request)
                self._enqueue(request)


@dataclass
class _Worker:
    index: int
    process: mp.process.BaseProcess
    inbox: object
    ready: bool = False
    seconds_per_step: float = 0.0
    members: int = 0
    keys: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def startup_left(self) -> float:
        return max(0.5, 5.0 - (time.monotonic() - self.started))


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


# ----- the worker process --------------------------------------------------------------------


def worker_main(index: int, inbox, outbox, cache_dir: str) -> None:
    """Train whatever the service sends, every batch one step at a time, round robin."""
    torch.set_num_threads(1)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    seconds_per_step = _warm_up(device)
    outbox.put(("ready", index, seconds_per_step))
    batches: dict[tuple, Ensemble] = {}
    members: dict[str, Member] = {}
    last_sent: dict[str, float] = {}
    sent_upto: dict[str, tuple[int, int]] = {}  # rid → (elbo values, evaluations) already sent
    live: set[str] = set()  # requests whose progress carries the current weights
    per_step = seconds_per_step
    parent = mp.parent_process()
    checked_parent = time.monotonic()
    while True:
        if time.monotonic() - checked_parent >= PARENT_CHECK_EVERY:
            # A server killed outright (SIGKILL, a crash) cannot send "quit": without this
            # check its workers would train on, orphaned, taking the cores from everyone.
            if parent is not None and not parent.is_alive():
                return
            checked_parent = time.monotonic()
        try:
            message = inbox.get_nowait() if members else inbox.get(timeout=PARENT_CHECK_EVERY)
        except queue.Empty:
            message = None
        while message is not None:
            if message[0] == "quit":
                return
            if message[0] == "live":
                live.add(message[1])
            elif message[0] == "add" and message[5]:
                live.add(message[1])
            _worker_command(index, message, batches, members, outbox, cache_dir, sent_upto, device)
            try:
                message = inbox.get_nowait()
            except queue.Empty:
                message = None
        if not members:
            continue
        started = time.perf_counter()
        for key, batch in list(batches.items()):
            if not len(batch):
                del batches[key]
                continue
            for member in batch.step():
                rid = _rid_of(members, member)
                batch.remove(member)
                del members[rid]
                _send_progress(index, rid, member, batch, outbox, sent_upto, per_step, final=True)
                if member.status == "paused":
                    outbox.put(("paused", index, rid, batch.key, member.checkpoint))
                else:
                    _send_result(index, rid, member, batch.key, outbox, cache_dir)
        per_step = 0.9 * per_step + 0.1 * (time.perf_counter() - started)
        now = time.monotonic()
        for rid, member in members.items():
            interval = PROGRESS_INTERVAL if rid in live else PROGRESS_INTERVAL_QUIET
            if now - last_sent.get(rid, 0.0) >= interval:
                last_sent[rid] = now
                batch = batches[member.config.ensemble_key()]
                _send_progress(
                    index, rid, member, batch, outbox, sent_upto, per_step, with_weights=rid in live
                )


def _warm_up(device: str) -> float:
    """A few steps of a default model: loads the kernels and measures a step (s).

    Then its final diagnostics, once: the first `metrics.evaluate` in a process takes 0.44 s
    against 0.13–0.16 s later (lazy set-up and the ground truth's cached integrals at the
    default σ), which the first student to train would otherwise wait for.
    """
    member = Member(TrainConfig(steps=100, early_stop=False))
    batch = Ensemble(member.config.ensemble_key(), device)
    batch.add(member)
    started = time.perf_counter()
    for _ in range(20):
        batch.step()
    seconds_per_step = (time.perf_counter() - started) / 20
    batch.remove(member)
    member.result()
    return seconds_per_step


def _rid_of(members: dict[str, Member], member: Member) -> str:
    return next(rid for rid, m in members.items() if m is member)


def _worker_command(index, message, batches, members, outbox, cache_dir, sent_upto, device) -> None:
    kind = message[0]
    if kind == "add":
        _, rid, config, checkpoint, pause_at, _live = message
        try:
            member = Member(config, checkpoint, pause_at)
        except Exception as error:  # a bad checkpoint must not take the worker down
            outbox.put(("failed", index, rid, config.ensemble_key(), f"{type(error).__name__}: {error}"))
            return
        key = config.ensemble_key()
        batch = batches.setdefault(key, Ensemble(key, device))
        batch.add(member)
        members[rid] = member
        sent_upto[rid] = (0, 0)
    elif kind == "finish":
        _, rid, config, checkpoint = message
        member = Member(config, checkpoint)
        member.status = "stopped"
        _send_result(index, rid, member, config.ensemble_key(), outbox, cache_dir)
    elif kind == "pause_at":
        _, rid, step = message
        if rid in members:
            members[rid].pause_at = step
    elif kind == "checkpoint":
        _, rid, new_rid, action = message
        member = members.get(rid)
        if member is None:
            return
        batch = batches[member.config.ensemble_key()]
        if action == "fork":
            checkpoint = batch.checkpoint_of(member)
            outbox.put(("forked", index, new_rid, None, checkpoint))
            return
        checkpoint = batch.remove(member)
        del members[rid]
        if action == "pause":
            outbox.put(("paused", index, rid, batch.key, checkpoint))
        elif action == "stop":
            member.status = "stopped"
            member.finished_step = member.step
            _send_result(index, rid, member, batch.key, outbox, cache_dir)
        else:  # "drop": nobody waits for it any more
            outbox.put(("dropped", index, rid, batch.key))


def _send_progress(
    index, rid, member, batch, outbox, sent_upto, per_step, final=False, with_weights=True
) -> None:
    sent_elbo, sent_evals = sent_upto.get(rid, (0, 0))
    start = min(sent_elbo, len(member.train_elbo))
    if final:
        weights = member.checkpoint.weights
    else:
        weights = batch.current_weights(member) if with_weights else None
    outbox.put(
        (
            "progress",
            index,
            rid,
            member.step,
            start,
            member.train_elbo[start:],
            member.evaluations[sent_evals:],
            weights,
            len(batch.members) or 1,
            per_step,
        )
    )
    sent_upto[rid] = (len(member.train_elbo), len(member.evaluations))


def _send_result(index, rid, member, key, outbox, cache_dir) -> None:
    try:
        result = member.result()
        if result.status != "stopped":
            try:
                save_result(result, Path(cache_dir))
            except OSError:
                pass  # a read-only disk only costs a retrain after a restart
        checkpoint = member.checkpoint if result.status == "stopped" else None
        outbox.put(("done", index, rid, key, result, checkpoint))
    except Exception as error:
        outbox.put(("failed", index, rid, key, f"{type(error).__name__}: {error}"))
