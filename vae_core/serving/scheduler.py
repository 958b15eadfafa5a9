"""Requests, their states and the queue: which worker trains what, and what people are told.

A plain class with a queue and a clock, no processes: it sends commands through a callable
`send(worker_index, command)` and learns what the workers did from `handle(event)`, so every
transition can be tested without starting a worker (tests/test_scheduler.py). It is not
thread-safe: TrainingService calls it under its lock.

- Whenever a worker has room it takes waiting requests; requests of equal shapes
  (TrainConfig.ensemble_key) join an ensemble that is already running (continuous batching, up
  to max_ensemble members per worker).
- A config queued or training for another session is joined (one training, several tickets).
  pause / stop / step on a request that other sessions share never touches them: the session
  gets a private copy (a fork of the checkpoint) and the shared training goes on.
- A stopped run is never cached; a paused run resumed gives the uninterrupted numbers.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vae_core.config import TrainConfig
from vae_core.serving.leases import Leases
from vae_core.serving.protocol import (
    ACTIVE,
    ON_WORKER,
    Add,
    Command,
    Done,
    Drop,
    Dropped,
    Event,
    Failed,
    Finish,
    Fork,
    Forked,
    Pause,
    PauseAt,
    Paused,
    Progress,
    Ready,
    RequestState,
    Status,
    Stop,
    Watch,
    Weights,
)
from vae_core.training import Checkpoint, TrainResult

ABANDONED_AFTER = 60.0  # s without a status() call: the session is gone (tab closed)
GONE_GRACE = 10.0  # s a session reported gone by session_alive keeps its request (a reload)
PAUSED_KEPT_FOR = 3600.0  # s a paused checkpoint nobody looks at is kept
DEFAULT_MAX_ENSEMBLE = 64
DEFAULT_MAX_WAITING = 200
# Until a worker has measured itself: seconds per batched step (about 1 ms on one idle core).
INITIAL_SECONDS_PER_STEP = 1.5e-3
STARTUP_GUESS = 5.0  # s a worker takes to start, for the ETA until it is ready
# A request's time left is its own measured rate (its steps per second of wall time, with its
# evaluations, its ensemble and the server's load in it), once measured over at least its
# eval_every steps and this many seconds; until then people read "estimating". (From the
# worker's warm-up rate it said 3 s for a run that took 18 s: issue 22.)
MIN_MEASURED_SECONDS = 1.0

S = RequestState


class ServerBusy(Exception):
    """The queue is full; str(error) is the message to show."""


class Request:
    """One training run (a config, or a session's private fork of one)."""

    _ids = itertools.count(1)

    def __init__(self, config: TrainConfig, private: bool = False):
        self.id = f"r{next(self._ids)}"
        self.config = config
        self.private = private
        self.state = S.QUEUED
        self.tickets: set[str] = set()
        self.worker: int | None = None
        self.checkpoint: Checkpoint | None = None
        self.pause_at: int | None = None
        self.step = 0
        self.train_elbo: list[float] = []
        self.evaluations: list[tuple] = []
        self.weights: Weights | None = None
        self.result: TrainResult | None = None
        self.message = ""
        self.retryable = False
        self.ensemble_size = 0
        self.version = 0
        self.after_checkpoint: tuple[str, int] | None = None  # a fork's action once it has come
        self.live = False  # someone draws this request live: progress carries its weights
        # Stop was sent while the member may already be leaving (a Pause, a Step's end): if it
        # comes back paused, the stop is done then.
        self.stopping = False
        # (clock, step) of its first and latest progress since it last started training: its
        # own rate, for the time left (reset whenever it leaves a worker).
        self.rate_start: tuple[float, int] | None = None
        self.rate_last: tuple[float, int] | None = None

    def seconds_per_step(self) -> float | None:
        """Its own measured wall time per step, or None until measured (MIN_MEASURED_SECONDS
        and eval_every steps: the rate must include an evaluation's cost)."""
        if self.rate_start is None or self.rate_last is None:
            return None
        (t0, s0), (t1, s1) = self.rate_start, self.rate_last
        if s1 - s0 < max(1, self.config.eval_every) or t1 - t0 < MIN_MEASURED_SECONDS:
            return None
        return (t1 - t0) / (s1 - s0)

    def restore_from(self, checkpoint: Checkpoint | None) -> None:
        self.checkpoint = checkpoint
        if checkpoint is not None:
            self.step = checkpoint.step
            self.train_elbo = list(checkpoint.train_elbo)
            self.evaluations = [tuple(e) for e in checkpoint.evaluations]
            self.weights = {k: v.clone() for k, v in checkpoint.weights.items()}

    @property
    def continuable(self) -> bool:
        """Paused, or stopped with a checkpoint: resume continues it (never from scratch)."""
        stopped = (
            self.state == S.DONE
            and self.checkpoint is not None
            and self.result is not None
            and self.result.status == "stopped"
        )
        return self.state == S.PAUSED or stopped


@dataclass
class Ticket:
    """One session's handle on a request."""

    id: str
    session: str
    request: Request
    last_seen: float
    released: bool = False


@dataclass
class WorkerSlot:
    """What the scheduler knows of one worker process."""

    index: int
    started: float
    alive: Callable[[], bool]
    ready: bool = False
    seconds_per_step: float = 0.0
    members: int = 0
    keys: dict[tuple, int] = field(default_factory=dict)  # ensemble_key -> members of that shape

    def startup_left(self, now: float) -> float:
        return max(0.5, STARTUP_GUESS - (now - self.started))

    def member_left(self, key: tuple | None) -> None:
        self.members = max(0, self.members - 1)
        if key in self.keys:
            self.keys[key] -= 1
            if self.keys[key] <= 0:
                del self.keys[key]


class Scheduler:
    def __init__(
        self,
        workers: list[Callable[[], bool]],
        send: Callable[[int, Command], None],
        leases: Leases,
        max_ensemble: int = DEFAULT_MAX_ENSEMBLE,
        max_waiting: int = DEFAULT_MAX_WAITING,
        session_alive: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """workers: one is_alive() per worker process. session_alive(session) tells whether a
        session (its browser tab) is still connected; without it a session is gone
        ABANDONED_AFTER s after its last status() call."""
        self._send_to = send
        self.leases = leases
        self.max_ensemble = max_ensemble
        self.max_waiting = max_waiting
        self.session_alive = session_alive
        self.clock = clock
        self.workers = [WorkerSlot(i, clock(), alive) for i, alive in enumerate(workers)]
        self.results: dict[str, TrainResult] = {}  # config key -> result, every session's
        self.requests: dict[str, Request] = {}
        self.tickets: dict[str, Ticket] = {}
        self.by_session: dict[str, str] = {}
        self.waiting: list[Request] = []
        self.elsewhere: list[Request] = []  # requests another server is training
        self.trained: list[TrainConfig] = []  # configs whose training finished here, in order
        self._ticket_ids = itertools.count(1)
        self._handlers = {
            Ready: self._on_ready,
            Progress: self._on_progress,
            Paused: self._on_paused,
            Done: self._on_done,
            Forked: self._on_forked,
            Dropped: self._on_dropped,
            Failed: self._on_failed,
        }

    # ----- what sessions ask ------------------------------------------------------------------

    def submit(self, config: TrainConfig, session: str, cached: TrainResult | None) -> str:
        """A ticket for config (cached: its result if the caller found one)."""
        previous = self.by_session.get(session) if session else None
        if previous is not None:
            ticket = self.tickets[previous]
            if self._same_run_again(ticket, config):
                return ticket.id
            self._release(ticket)
        if cached is not None:
            request = Request(config)
            request.state, request.result, request.step = S.DONE, cached, cached.steps_run
            return self._new_ticket(session, request)
        return self._new_ticket(session, self._shared_request(config) or self._new_request(config))

    def status(self, ticket_id: str, live: bool = False) -> Status:
        ticket = self.tickets[ticket_id]
        ticket.last_seen = self.clock()
        request = ticket.request
        if live and not request.live:
            request.live = True
            if request.state in ON_WORKER:
                self._send(request.worker, Watch(request.id))
        if ticket.released:
            return Status(ticket_id, request.config, S.RELEASED, message="Released.")
        position = self.waiting.index(request) + 1 if request in self.waiting else 0
        eta = self.eta(request, position)
        return Status(
            ticket=ticket_id,
            config=request.config,
            state=request.state,
            step=request.step,
            max_steps=request.config.steps,
            queue_position=position,
            ensemble_size=request.ensemble_size,
            eta_seconds=eta,
            message=self.message(request, position, eta),
            train_elbo=np.asarray(request.train_elbo, dtype=np.float32),
            evaluations=tuple(request.evaluations),
            weights=request.weights,
            result=request.result,
            retryable=request.retryable,
            version=request.version,
        )

    def stop(self, ticket_id: str) -> None:
        ticket = self.tickets[ticket_id]
        if not ticket.released and ticket.request.state == S.FORKING:
            ticket.request.after_checkpoint = ("stop", 0)  # a stop overrides the pending action
            return
        request = self._own(ticket, "stop")
        if request is None:
            return
        if request.state == S.QUEUED:
            self._dequeue(request)
            self._finish_paused(request)
        elif request.state in ON_WORKER:
            request.stopping = True
            self._send(request.worker, Stop(request.id))
        elif request.state == S.PAUSED:
            self._finish_paused(request)

    def pause(self, ticket_id: str) -> None:
        request = self._own(self.tickets[ticket_id], "pause")
        if request is None:
            return
        if request.state == S.QUEUED:
            self._dequeue(request)
            self._set(request, state=S.PAUSED)
        elif request.state in ON_WORKER:
            self._send(request.worker, Pause(request.id))

    def step(self, ticket_id: str, n: int) -> None:
        n = max(1, int(n))
        request = self._own(self.tickets[ticket_id], "step", n)
        if request is None:
            return
        if request.state == S.TRAINING:
            request.pause_at = request.step + n
            self._send(request.worker, PauseAt(request.id, request.pause_at))
        elif request.state == S.PAUSED or (request.state == S.DONE and request.checkpoint):
            request.pause_at = request.step + n
            self._requeue(request)

    def resume(self, ticket_id: str) -> None:
        ticket = self.tickets[ticket_id]
        if not (ticket.request.continuable or _pausing(ticket.request)):
            return  # nothing to resume: it trains on (and a shared run must not be forked)
        request = self._own(ticket, "resume")
        if request is None:
            return
        if request.continuable:
            request.pause_at = None
            self._requeue(request)
        elif _pausing(request):
            request.pause_at = None
            self._send(request.worker, PauseAt(request.id, None))

    def release(self, ticket_id: str) -> None:
        ticket = self.tickets.get(ticket_id)
        if ticket is not None:
            self._release(ticket)

    def owner_of(self, ticket_id: str) -> tuple[TrainConfig, str]:
        ticket = self.tickets[ticket_id]
        return ticket.request.config, ticket.session

    @property
    def jobs(self) -> list[str]:
        return [r.id for r in self.requests.values() if r.state in ACTIVE]

    def sessions_waiting(self) -> int:
        return sum(1 for t in self.tickets.values() if not t.released and t.request.state in ACTIVE)

    def ready(self) -> bool:
        return all(w.ready for w in self.workers)

    def training(self, config: TrainConfig) -> bool:
        """Whether config is queued, starting or training here for some session (a private
        fork aside): submitting it now joins that run instead of starting another."""
        return self._shared_request(config) is not None

    # ----- requests ---------------------------------------------------------------------------

    def _same_run_again(self, ticket: Ticket, config: TrainConfig) -> bool:
        """Train pressed again on the session's own run: keep it, or continue it if it rests."""
        request = ticket.request
        if request.config.key() != config.key() or ticket.released:
            return False
        ticket.last_seen = self.clock()
        if request.state in ACTIVE:
            return True
        if request.continuable:  # Train on a paused or stopped run
            self.resume(ticket.id)
            return True
        return False

    def _shared_request(self, config: TrainConfig) -> Request | None:
        key = config.key()
        return next(
            (
                r
                for r in self.requests.values()
                if r.config.key() == key and not r.private and r.state in ACTIVE
            ),
            None,
        )

    def _new_request(self, config: TrainConfig) -> Request:
        if len(self.waiting) >= self.max_waiting:
            raise ServerBusy(self.busy_message())
        request = Request(config)
        self.requests[request.id] = request
        self._enqueue(request)
        return request

    def _new_ticket(self, session: str, request: Request) -> str:
        ticket = Ticket(f"t{next(self._ticket_ids)}", session, request, self.clock())
        self.tickets[ticket.id] = ticket
        request.tickets.add(ticket.id)
        if session:
            self.by_session[session] = ticket.id
        return ticket.id

    def _own(self, ticket: Ticket, action: str, n: int = 0) -> Request | None:
        """The request this ticket alone controls: a shared one is forked for it first (None:
        nothing to act on now, or the fork's action runs once its checkpoint has come)."""
        request = ticket.request
        if ticket.released or request.state in (S.FAILED, S.RELEASED, S.FORKING):
            return None
        if request.state == S.DONE and request.checkpoint is None:
            return None
        if request.private or not request.tickets - {ticket.id}:
            request.private = True
            return request
        return self._fork(ticket, action, n)

    def _fork(self, ticket: Ticket, action: str, n: int) -> Request | None:
        shared = ticket.request
        fork = Request(shared.config, private=True)
        fork.restore_from(shared.checkpoint)
        fork.train_elbo, fork.step = list(shared.train_elbo), shared.step
        fork.weights = shared.weights
        self.requests[fork.id] = fork
        shared.tickets.discard(ticket.id)
        fork.tickets.add(ticket.id)
        ticket.request = fork
        if shared.state == S.TRAINING:
            # The worker copies the running member's checkpoint into the fork; the action
            # runs once it has arrived (see _on_forked).
            fork.state = S.FORKING
            fork.after_checkpoint = (action, n)
            self._send(shared.worker, Fork(shared.id, fork.id))
            return None
        fork.state = S.PAUSED if shared.state == S.PAUSED else S.QUEUED
        if fork.state == S.QUEUED:
            self._enqueue(fork)
        return fork

    def _release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        request = ticket.request
        request.tickets.discard(ticket.id)
        if self.by_session.get(ticket.session) == ticket.id:
            del self.by_session[ticket.session]
        if request.tickets:
            return
        if request.state in ON_WORKER:
            self._send(request.worker, Drop(request.id))
            return  # forgotten when the worker confirms (Dropped)
        self._dequeue(request)
        self._set(request, state=S.RELEASED)
        self.requests.pop(request.id, None)

    def _enqueue(self, request: Request) -> None:
        request.stopping = False
        self._set(request, state=S.QUEUED, worker=None)
        self.waiting.append(request)
        self.dispatch()

    def _requeue(self, request: Request) -> None:
        request.result = None
        self.requests[request.id] = request
        self._enqueue(request)

    def _dequeue(self, request: Request) -> None:
        """Out of the queue, here or waiting for another server (a Pause there is obeyed too)."""
        if request in self.waiting:
            self.waiting.remove(request)
        if request in self.elsewhere:
            self.elsewhere.remove(request)

    def _finish_paused(self, request: Request) -> None:
        """A stopped run that is not training: a worker builds its result from its checkpoint."""
        worker = self._least_loaded()
        self._set(request, state=S.TRAINING, worker=worker.index)
        worker.members += 1
        self._send(worker.index, Finish(request.id, request.config, request.checkpoint))

    def _set(self, request: Request, **values) -> None:
        for name, value in values.items():
            setattr(request, name, value)
        request.version += 1
        if request.state != S.TRAINING:  # a rate measured before a pause or a restart is stale
            request.rate_start = request.rate_last = None
        if request.state not in ACTIVE:
            self._unclaim(request.config.key(), besides=request)

    def _unclaim(self, key: str, besides: Request | None = None) -> None:
        """Give up the claim on a config once no other request of it is active."""
        if self.leases.holds(key) and not any(
            r is not besides and r.config.key() == key and r.state in ACTIVE for r in self.requests.values()
        ):
            self.leases.release(key)

    def _send(self, index: int | None, command: Command) -> None:
        if index is not None:
            self._send_to(index, command)

    # ----- scheduling -------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Give waiting requests to workers with room: an ensemble of equal shapes first."""
        for request in list(self.waiting):
            ready = [w for w in self.workers if w.alive() and w.members < self.max_ensemble]
            if not ready:
                return
            if not request.private and not self.leases.claim(request.config.key()):
                self.waiting.remove(request)
                self.elsewhere.append(request)
                self._set(request, state=S.QUEUED, message="")
                continue
            key = request.config.ensemble_key()
            # The least loaded worker, so every core trains; of equals, one already running
            # this shape (the request joins that ensemble instead of starting another).
            worker = min(ready, key=lambda w: (w.members, key not in w.keys))
            self.waiting.remove(request)
            worker.members += 1
            worker.keys[key] = worker.keys.get(key, 0) + 1
            self._set(request, state=S.TRAINING if worker.ready else S.STARTING, worker=worker.index)
            self._send(
                worker.index,
                Add(request.id, request.config, request.checkpoint, request.pause_at, request.live),
            )

    def _least_loaded(self) -> WorkerSlot:
        return sorted((w for w in self.workers if w.alive()), key=lambda w: w.members)[0]

    # ----- what people are told ---------------------------------------------------------------

    def _measured_seconds_per_step(self) -> float:
        return max(
            (w.seconds_per_step for w in self.workers if w.seconds_per_step),
            default=INITIAL_SECONDS_PER_STEP,
        )

    def eta(self, request: Request, position: int) -> float | None:
        """Seconds until the request has trained its steps, at most; None while that is not
        measured yet (see MIN_MEASURED_SECONDS), or when it is not waiting for training."""
        if request.state == S.TRAINING:
            per_step = request.seconds_per_step()
            if per_step is None:
                return None
            last_time, last_step = request.rate_last
            since = self.clock() - last_time  # steps trained since its last progress report
            return max(0.0, (request.config.steps - last_step) * per_step - since)
        if request.state == S.QUEUED:
            training = [r for r in self.requests.values() if r.state == S.TRAINING]
            rates = [r.seconds_per_step() for r in training]
            if not training or None in rates:
                return None
            remaining = sorted(self.eta(r, 0) for r in training)
            wait = remaining[min(position, len(remaining)) - 1]
            return wait + request.config.steps * max(rates)
        return None

    def message(self, request: Request, position: int, eta: float | None) -> str:
        if request.state == S.STARTING:
            startup = self.workers[request.worker].startup_left(self.clock())
            return f"The training service is starting (about {startup:.0f} s); your model trains next."
        if request.state == S.QUEUED and request in self.elsewhere:
            return "Another server of this class is training this model; it appears here when done."
        if request.state == S.QUEUED:
            wait = "estimating how long…" if eta is None else f"about {eta:.0f} s in all."
            return f"Waiting: {position} of {len(self.waiting)} in the queue, all workers are full; {wait}"
        if request.state == S.TRAINING:
            others = request.ensemble_size - 1
            beside = f" in one batch with {others} other model{'s' * (others != 1)}" if others > 0 else ""
            at = f"step {request.step} of at most {request.config.steps}"
            return f"Training{beside}: {at}, {self._left(request, eta)}"
        if request.state == S.PAUSED:
            return f"Paused at step {request.step}."
        return request.message

    @staticmethod
    def _left(request: Request, eta: float | None) -> str:
        if eta is None:
            return "estimating the time left…"
        if request.step >= request.config.steps or eta < 0.5:
            return "finishing: the exact evaluation of the trained model."
        sooner = " (less if it converges sooner)" if request.config.early_stop else ""
        return f"about {eta:.0f} s left{sooner}."

    def busy_message(self) -> str:
        per_step = self._measured_seconds_per_step()
        wait = len(self.waiting) * TrainConfig().steps * per_step / max(1, len(self.workers))
        return (
            f"The class server is busy: {len(self.waiting)} models are waiting ahead of "
            f"yours. Try again in ~{max(5, round(wait))} s."
        )

    # ----- what the workers did ---------------------------------------------------------------

    def handle(self, event: Event) -> None:
        self._handlers[type(event)](event)

    def _on_ready(self, event: Ready) -> None:
        worker = self.workers[event.worker]
        worker.ready = True
        worker.seconds_per_step = event.seconds_per_step
        for request in self.requests.values():
            if request.worker == event.worker and request.state == S.STARTING:
                self._set(request, state=S.TRAINING)

    def _on_progress(self, event: Progress) -> None:
        self.workers[event.worker].seconds_per_step = event.seconds_per_step
        request = self.requests.get(event.request)
        if request is None or request.state != S.TRAINING:
            return
        now = self.clock()
        if request.rate_start is None or event.step < request.rate_start[1]:
            request.rate_start = (now, event.step)
        request.rate_last = (now, event.step)
        del request.train_elbo[event.start :]
        request.train_elbo.extend(event.train_elbo)
        request.evaluations = [e for e in request.evaluations if e[0] <= event.start]
        request.evaluations.extend(event.evaluations)
        request.step, request.ensemble_size = event.step, event.ensemble_size
        if event.weights is not None:
            request.weights = event.weights
        request.version += 1

    def _on_paused(self, event: Paused) -> None:
        self.workers[event.worker].member_left(event.key)
        request = self.requests.get(event.request)
        if request is not None:
            request.restore_from(event.checkpoint)
            self._set(request, state=S.PAUSED, pause_at=None, worker=None)
            if request.stopping:
                request.stopping = False
                self._finish_paused(request)
        self.dispatch()

    def _on_done(self, event: Done) -> None:
        self.workers[event.worker].member_left(event.key)
        result = event.result
        request = self.requests.get(event.request)
        if request is None:
            if result.status != "stopped":
                self.results[result.config.key()] = result
                self._unclaim(result.config.key())
            self.dispatch()
            return
        request.restore_from(event.checkpoint)  # kept only for a stopped run (to continue it)
        self._set(request, state=S.DONE, result=result, worker=None, step=result.steps_run, message="")
        if result.status != "stopped":
            self.results[request.config.key()] = result
            self.trained.append(request.config)
        if not request.tickets:
            self.requests.pop(request.id, None)
        self.dispatch()

    def _on_forked(self, event: Forked) -> None:
        fork = self.requests.get(event.request)
        if fork is None:
            return
        fork.restore_from(event.checkpoint)
        self._set(fork, state=S.PAUSED, worker=None)
        (action, n), fork.after_checkpoint = fork.after_checkpoint, None
        if action == "stop":
            self._finish_paused(fork)
        elif action == "step":
            fork.pause_at = fork.step + n
            self._requeue(fork)

    def _on_dropped(self, event: Dropped) -> None:
        self.workers[event.worker].member_left(event.key)
        request = self.requests.get(event.request)
        if request is not None:
            self._set(request, state=S.RELEASED, worker=None)
            self.requests.pop(request.id, None)
        self.dispatch()

    def _on_failed(self, event: Failed) -> None:
        self.workers[event.worker].member_left(event.key)
        request = self.requests.get(event.request)
        if request is not None:
            self._set(
                request,
                state=S.FAILED,
                worker=None,
                retryable=True,
                message=f"Training failed ({event.error}). Press Train to try again.",
            )
        self.dispatch()

    # ----- supervision and housekeeping (called about once a second) --------------------------

    def worker_died(self, index: int, exit_code: int | None) -> None:
        """Fail the requests a dead worker held (they can be retried)."""
        for request in self.requests.values():
            if request.worker == index and request.state in ON_WORKER:
                self._set(
                    request,
                    state=S.FAILED,
                    worker=None,
                    retryable=True,
                    message=f"The training worker stopped unexpectedly (exit code "
                    f"{exit_code}); nothing cached was lost. Press Train to try "
                    "again.",
                )

    def worker_started(self, index: int, alive: Callable[[], bool]) -> None:
        self.workers[index] = WorkerSlot(index, self.clock(), alive)

    def drop_abandoned(self) -> None:
        now = self.clock()
        for ticket in list(self.tickets.values()):
            if not ticket.released and self._gone(ticket, now - ticket.last_seen):
                self._release(ticket)

    def _gone(self, ticket: Ticket, idle: float) -> bool:
        if ticket.request.state not in ACTIVE:
            return idle > PAUSED_KEPT_FOR
        if self.session_alive is not None:
            return idle > GONE_GRACE and not self.session_alive(ticket.session)
        return idle > ABANDONED_AFTER

    def check_elsewhere(self) -> None:
        """Requests another server trains: done once its result is cached, ours if it died."""
        for request in list(self.elsewhere):
            if not request.tickets:
                self.elsewhere.remove(request)
                self._set(request, state=S.RELEASED)
                self.requests.pop(request.id, None)
                continue
            found = self.leases.finished_elsewhere(request.config)
            if found is not None:
                self.elsewhere.remove(request)
                self.results[request.config.key()] = found
                self._set(request, state=S.DONE, result=found, step=found.steps_run)
            elif self.leases.claim(request.config.key()):
                self.elsewhere.remove(request)
                self._enqueue(request)


def _pausing(request: Request) -> bool:
    """Training towards a Step's pause (resume cancels the pause)."""
    return request.state == S.TRAINING and request.pause_at is not None
