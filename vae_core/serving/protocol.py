"""What crosses the process boundary, typed: the web server's commands to a worker, a worker's
events back, the request states and the Status a page reads.

Every message is a frozen dataclass that pickles (multiprocessing queues carry them); the worker
and the scheduler each keep a dispatch table keyed by message class, and tests/test_protocol.py
checks that every class here has a handler on the side that receives it, so a message added on
one side and forgotten on the other fails in a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import torch

from vae_core.config import TrainConfig
from vae_core.training import Checkpoint, TrainResult

Weights = dict[str, torch.Tensor]
Evaluation = tuple[int, float, float]  # (step, validation ELBO, validation log-likelihood)


class RequestState(StrEnum):
    """A training request's state (a str, so `status.state == "done"` holds)."""

    STARTING = "starting"  # given to a worker that is still starting
    QUEUED = "queued"
    TRAINING = "training"
    PAUSED = "paused"  # out of its ensemble, with a checkpoint kept by the service
    DONE = "done"  # a result: completed, converged, diverged, or stopped (result.status)
    FAILED = "failed"  # retryable: Train submits it again
    RELEASED = "released"  # no session waits for it any more
    # A session's private copy of a shared training, waiting for the worker to copy the
    # running member's checkpoint into it; the pressed action runs once it has come.
    FORKING = "forking"


ACTIVE = frozenset({RequestState.STARTING, RequestState.QUEUED, RequestState.TRAINING})
ON_WORKER = frozenset({RequestState.STARTING, RequestState.TRAINING})


@dataclass(frozen=True)
class Status:
    """A small snapshot of one ticket's request (see TrainingService.status)."""

    ticket: str
    config: TrainConfig
    state: RequestState
    step: int = 0
    max_steps: int = 0
    queue_position: int = 0  # 1 = next; 0 when not waiting
    ensemble_size: int = 0  # the models trained together with this one, itself included
    eta_seconds: float | None = None
    message: str = ""  # one sentence for people
    train_elbo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    evaluations: tuple[Evaluation, ...] = ()
    weights: Weights | None = None  # the member's current single-member state dict, on CPU
    result: TrainResult | None = None
    retryable: bool = False
    version: int = 0  # grows with every change


# ----- commands: web server -> worker ----------------------------------------------------------


@dataclass(frozen=True)
class Add:
    """Train a request (from its checkpoint if it has one) in the ensemble of its shape."""

    request: str
    config: TrainConfig
    checkpoint: Checkpoint | None
    pause_at: int | None
    live: bool


@dataclass(frozen=True)
class Finish:
    """Build a stopped request's result from its checkpoint (a run that is not training)."""

    request: str
    config: TrainConfig
    checkpoint: Checkpoint | None


@dataclass(frozen=True)
class PauseAt:
    """Pause the member once it reaches `step` (None: train on to the end)."""

    request: str
    step: int | None


@dataclass(frozen=True)
class Watch:
    """Someone draws this request live: its progress carries the current weights from now on."""

    request: str


@dataclass(frozen=True)
class Fork:
    """Copy the running member's checkpoint into the private request `fork` (it trains on)."""

    request: str
    fork: str


@dataclass(frozen=True)
class Pause:
    request: str


@dataclass(frozen=True)
class Stop:
    request: str


@dataclass(frozen=True)
class Drop:
    """Nobody waits for this request any more: leave the ensemble without a result."""

    request: str


@dataclass(frozen=True)
class Quit:
    pass


Command = Add | Finish | PauseAt | Watch | Fork | Pause | Stop | Drop | Quit
COMMANDS = (Add, Finish, PauseAt, Watch, Fork, Pause, Stop, Drop, Quit)


# ----- events: worker -> web server ------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    worker: int
    seconds_per_step: float


@dataclass(frozen=True)
class Progress:
    """A member's steps since the last report: history from `start` on, weights if watched."""

    worker: int
    request: str
    step: int
    start: int
    train_elbo: list[float]
    evaluations: list[Evaluation]
    weights: Weights | None
    ensemble_size: int
    seconds_per_step: float


@dataclass(frozen=True)
class Paused:
    worker: int
    request: str
    key: tuple
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Done:
    """A result (cached by the worker unless stopped); a stopped one keeps its checkpoint."""

    worker: int
    request: str
    key: tuple
    result: TrainResult
    checkpoint: Checkpoint | None


@dataclass(frozen=True)
class Forked:
    worker: int
    request: str  # the fork
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Dropped:
    worker: int
    request: str
    key: tuple


@dataclass(frozen=True)
class Failed:
    worker: int
    request: str
    key: tuple
    error: str


Event = Ready | Progress | Paused | Done | Forked | Dropped | Failed
EVENTS = (Ready, Progress, Paused, Done, Forked, Dropped, Failed)
