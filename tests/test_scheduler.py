"""The scheduler (vae_core.serving.scheduler) driving in-process workers, without processes.

`Loopback` carries commands and events through lists and pickle, as the real queues do, and a
worker only gets its commands when it is "started", so every state can be reached on purpose:
Stop / Pause / Step / Resume pressed in each one is obeyed or a defined no-op, never an
exception or a lost request, and a run that ends completed has the uninterrupted numbers.
"""

from __future__ import annotations

import pickle
import queue

import pandas as pd
import pytest

from vae_core.config import TrainConfig
from vae_core.serving import RequestState, ServerBusy, worker
from vae_core.serving.leases import Leases
from vae_core.serving.protocol import Ready
from vae_core.serving.scheduler import Scheduler
from vae_core.serving.worker import Worker
from vae_core.training import train

TINY = TrainConfig(steps=12, n_train=50, n_test=50, hidden=4, batch_size=10, eval_every=4, early_stop=False)
STEP_N = 3


class Loopback:
    def __init__(self, tmp_path, workers=1, max_ensemble=64, started=True):
        self.now = 0.0
        self.events: queue.Queue = queue.Queue()
        self.workers = [Worker(i, self.events, tmp_path, "cpu", 1e-3) for i in range(workers)]
        self.inboxes: list[list] = [[] for _ in range(workers)]
        self.started = [False] * workers
        self.scheduler = Scheduler(
            [lambda: True] * workers,
            send=lambda index, command: self.inboxes[index].append(pickle.dumps(command)),
            leases=Leases(tmp_path),
            max_ensemble=max_ensemble,
            clock=lambda: self.now,
        )
        if started:
            for index in range(workers):
                self.start(index)

    def start(self, index: int) -> None:
        self.started[index] = True
        self.events.put(Ready(index, 1e-3))
        self.deliver()

    def deliver(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            self.scheduler.handle(pickle.loads(pickle.dumps(event)))

    def pump(self) -> None:
        """One round: each started worker takes its commands and steps once."""
        for index, w in enumerate(self.workers):
            if not self.started[index]:
                continue
            commands, self.inboxes[index] = self.inboxes[index], []
            for command in commands:
                w.handle(pickle.loads(command))
            if w.members:
                w.step_all()
                w.report_progress()
        self.deliver()

    def until(self, ticket: str, done, rounds: int = 200):
        for _ in range(rounds):
            status = self.scheduler.status(ticket)
            if done(status):
                return status
            self.pump()
        raise AssertionError(f"still {status.state} at step {status.step}")

    def settle(self, rounds: int = 200) -> None:
        """Pump until nothing is in flight: no commands, no members training."""
        for _ in range(rounds):
            self.pump()
            if not any(self.inboxes) and not any(w.members for w in self.workers):
                self.pump()
                return
        raise AssertionError("still training")

    def status(self, ticket: str):
        return self.scheduler.status(ticket)


@pytest.fixture(autouse=True)
def progress_every_round(monkeypatch):
    monkeypatch.setattr(worker, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(worker, "PROGRESS_INTERVAL_QUIET", 0.0)


@pytest.fixture(scope="module")
def alone():
    return train(TINY)


def assert_uninterrupted(result, alone):
    assert result.status == alone.status and result.steps_run == alone.steps_run
    pd.testing.assert_frame_equal(result.history, alone.history, check_exact=True)
    assert result.metrics == alone.metrics


def training(loop: Loopback, ticket: str):
    return loop.until(ticket, lambda s: s.state == "training" and s.step >= 3)


def into(state: str, tmp_path) -> tuple[Loopback, str]:
    """A loopback with session "me"'s ticket for TINY in `state`."""
    if state == "starting":
        loop = Loopback(tmp_path, started=False)
        return loop, loop.scheduler.submit(TINY, "me", None)
    if state == "queued":
        loop = Loopback(tmp_path, max_ensemble=1)
        loop.scheduler.submit(TINY.replace(seed=9), "other", None)
        return loop, loop.scheduler.submit(TINY, "me", None)
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(TINY, "me", None)
    if state == "done":
        loop.until(ticket, lambda s: s.state == "done")
        return loop, ticket
    training(loop, ticket)
    if state == "paused":
        loop.scheduler.pause(ticket)
        loop.until(ticket, lambda s: s.state == "paused")
    elif state == "stopped":
        loop.scheduler.stop(ticket)
        loop.until(ticket, lambda s: s.state == "done")
    return loop, ticket


# (state, action) -> the outcome once nothing is in flight; "paused+n": paused n steps later.
EXPECTED = {
    ("starting", "stop"): "stopped",
    ("starting", "pause"): "paused",
    ("starting", "step"): "completed",  # Step is offered on a paused run only: a no-op here
    ("starting", "resume"): "completed",  # nothing to resume: a no-op
    ("queued", "stop"): "stopped",
    ("queued", "pause"): "paused",
    ("queued", "step"): "completed",
    ("queued", "resume"): "completed",
    ("training", "stop"): "stopped",
    ("training", "pause"): "paused",
    ("training", "step"): "paused+n",
    ("training", "resume"): "completed",
    ("paused", "stop"): "stopped",
    ("paused", "pause"): "paused",
    ("paused", "step"): "paused+n",
    ("paused", "resume"): "completed",
    ("done", "stop"): "completed",
    ("done", "pause"): "completed",
    ("done", "step"): "completed",
    ("done", "resume"): "completed",
    ("stopped", "stop"): "stopped",
    ("stopped", "pause"): "stopped",
    ("stopped", "step"): "paused+n",
    ("stopped", "resume"): "completed",
}


def press(loop: Loopback, action: str, ticket: str) -> None:
    if action == "step":
        loop.scheduler.step(ticket, STEP_N)
    else:
        getattr(loop.scheduler, action)(ticket)


def assert_outcome(loop: Loopback, ticket: str, expected: str, before: int, alone) -> None:
    status = loop.status(ticket)
    if expected == "completed":
        assert status.state == "done", status
        assert_uninterrupted(status.result, alone)
        assert loop.scheduler.results[TINY.key()] is status.result
    elif expected == "stopped":
        assert status.state == "done" and status.result.status == "stopped", status
        assert TINY.key() not in loop.scheduler.results, "a stopped run is never cached"
    elif expected == "paused":
        assert status.state == "paused", status
        assert status.weights is not None or status.step == 0  # paused in the queue: none yet
    else:
        assert status.state == "paused" and status.step == before + STEP_N, status
        assert len(status.train_elbo) == status.step


def assert_books_balance(loop: Loopback) -> None:
    """Nothing in flight: every worker's member count is back to zero, nothing left active."""
    assert all(w.members == 0 and not w.keys for w in loop.scheduler.workers)
    assert not loop.scheduler.jobs and not loop.scheduler.waiting


@pytest.mark.parametrize("state, action", list(EXPECTED))
def test_a_control_pressed_in_any_state_is_obeyed_or_a_no_op(state, action, tmp_path, alone):
    loop, ticket = into(state, tmp_path)
    assert loop.status(ticket).state == ("done" if state == "stopped" else state)
    before = loop.status(ticket).step
    press(loop, action, ticket)
    if state == "starting":
        loop.start(0)
    loop.settle()
    assert_outcome(loop, ticket, EXPECTED[state, action], before, alone)
    if EXPECTED[state, action].startswith("paused"):
        loop.scheduler.resume(ticket)  # a paused run continues to the uninterrupted numbers
        loop.settle()
        assert_outcome(loop, ticket, "completed", before, alone)
    assert_books_balance(loop)


@pytest.mark.parametrize("action", ["stop", "pause", "step", "resume"])
def test_a_control_on_a_shared_run_leaves_the_other_session_alone(action, tmp_path, alone):
    loop = Loopback(tmp_path)
    mine, theirs = (loop.scheduler.submit(TINY, who, None) for who in ("me", "them"))
    before = training(loop, mine).step
    press(loop, action, mine)
    loop.settle()
    assert_uninterrupted(loop.status(theirs).result, alone)
    expected = {"stop": "stopped", "pause": "paused", "step": "paused+n", "resume": "completed"}[action]
    status = loop.status(mine)
    if expected == "stopped":  # the cache holds the other session's completed run
        assert status.state == "done" and status.result.status == "stopped"
    else:
        assert_outcome(loop, mine, expected, before, alone)
    assert loop.scheduler.trained == [TINY]  # one training for both sessions
    assert_books_balance(loop)


def test_stop_pressed_while_a_pause_is_on_its_way_is_obeyed(tmp_path):
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(TINY, "me", None)
    training(loop, ticket)
    loop.scheduler.pause(ticket)
    loop.scheduler.stop(ticket)  # before the worker has answered the pause
    loop.settle()
    status = loop.status(ticket)
    assert status.state == "done" and status.result.status == "stopped"
    assert_books_balance(loop)


def test_stop_pressed_while_a_fork_is_on_its_way_is_obeyed(tmp_path):
    loop = Loopback(tmp_path)
    mine, theirs = (loop.scheduler.submit(TINY, who, None) for who in ("me", "them"))
    training(loop, mine)
    loop.scheduler.pause(mine)  # shared: a private fork is on its way
    assert loop.status(mine).state == "forking"
    loop.scheduler.stop(mine)
    loop.settle()
    status = loop.status(mine)
    assert status.state == "done" and status.result.status == "stopped"
    assert loop.status(theirs).result.status == "completed"
    assert_books_balance(loop)


def test_members_of_one_shape_share_an_ensemble_and_the_least_loaded_worker_trains(tmp_path):
    loop = Loopback(tmp_path, workers=2)
    tickets = [loop.scheduler.submit(TINY.replace(seed=s), f"s{s}", None) for s in range(3)]
    assert [w.members for w in loop.scheduler.workers] == [2, 1]
    status = loop.until(tickets[0], lambda s: s.step >= 1)
    assert status.ensemble_size == 2 and "in one batch with 1 other model" in status.message
    loop.settle()
    assert [loop.status(t).state for t in tickets] == ["done"] * 3
    assert_books_balance(loop)


def test_a_full_queue_raises_server_busy_with_a_message(tmp_path):
    loop = Loopback(tmp_path, max_ensemble=1)
    loop.scheduler.max_waiting = 1
    loop.scheduler.submit(TINY.replace(seed=1), "a", None)
    queued = loop.scheduler.submit(TINY.replace(seed=2), "b", None)
    status = loop.status(queued)
    assert status.queue_position == 1 and "Waiting: 1 of 1" in status.message
    with pytest.raises(ServerBusy, match="busy: 1 models are waiting"):
        loop.scheduler.submit(TINY.replace(seed=3), "c", None)


def test_a_ticket_nobody_watches_is_released_after_a_minute(tmp_path):
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(TINY, "me", None)
    loop.now += 59.0
    loop.scheduler.drop_abandoned()
    assert loop.status(ticket).state == "training"  # status() is a heartbeat
    loop.now += 61.0
    loop.scheduler.drop_abandoned()
    loop.settle()
    assert loop.status(ticket).state == RequestState.RELEASED
    assert_books_balance(loop)


def test_a_dead_worker_fails_its_requests_with_a_retryable_message(tmp_path):
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(TINY, "me", None)
    loop.scheduler.worker_died(0, -9)
    status = loop.status(ticket)
    assert status.state == "failed" and status.retryable and "exit code -9" in status.message


# ----- the time left: the request's own measured rate, "estimating" until it is measured ------

ETA_RUN = TINY.replace(steps=60, eval_every=4)


def advance(loop: Loopback, ticket: str, seconds_per_step: float, steps: int):
    """`steps` rounds of training with the clock moving `seconds_per_step` a round."""
    for _ in range(steps):
        loop.now += seconds_per_step
        loop.pump()
    return loop.status(ticket)


def test_the_time_left_says_estimating_until_the_run_is_measured(tmp_path):
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(ETA_RUN, "me", None)
    # The worker's warm-up says 1 ms a step (Loopback's Ready): that is not this run's rate.
    status = advance(loop, ticket, 0.3, 3)  # fewer steps than eval_every
    assert status.state == "training" and status.eta_seconds is None
    assert "estimating the time left…" in status.message
    # eval_every steps, but over less than MIN_MEASURED_SECONDS of wall time: still estimating.
    fast = Loopback(tmp_path / "fast")
    quick = fast.scheduler.submit(ETA_RUN, "me", None)
    assert advance(fast, quick, 0.01, 10).eta_seconds is None


def test_the_time_left_is_the_runs_own_rate_times_its_steps_left(tmp_path):
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(ETA_RUN, "me", None)
    status = advance(loop, ticket, 0.3, 10)
    # First progress at step 1, latest at step 10: 9 steps in 2.7 s, 0.3 s a step measured.
    assert status.step == 10
    assert status.eta_seconds == pytest.approx((ETA_RUN.steps - 10) * 0.3, rel=1e-12)
    assert f"about {(ETA_RUN.steps - 10) * 0.3:.0f} s left." in status.message
    # Time since the last report counts: half a step later, 0.15 s less.
    loop.now += 0.15
    assert loop.status(ticket).eta_seconds == pytest.approx((ETA_RUN.steps - 10) * 0.3 - 0.15, rel=1e-12)
    # Slower steps (a busier server) lengthen it: 10 more at 0.9 s (after the 0.15 s above),
    # so steps 1 → 20 took 9 · 0.3 + 0.15 + 10 · 0.9 s.
    status = advance(loop, ticket, 0.9, 10)
    per_step = (9 * 0.3 + 0.15 + 10 * 0.9) / 19
    assert status.eta_seconds == pytest.approx((ETA_RUN.steps - 20) * per_step, rel=1e-12)


def test_a_paused_run_measures_its_rate_afresh_after_resume(tmp_path):
    loop = Loopback(tmp_path)
    ticket = loop.scheduler.submit(ETA_RUN, "me", None)
    assert advance(loop, ticket, 0.3, 10).eta_seconds is not None
    loop.scheduler.pause(ticket)
    loop.until(ticket, lambda s: s.state == "paused")
    loop.now += 600.0  # ten minutes paused must not read as ten minutes of training
    loop.scheduler.resume(ticket)
    status = advance(loop, ticket, 0.3, 2)
    assert status.state == "training" and status.eta_seconds is None
    status = advance(loop, ticket, 0.3, 10)
    assert status.eta_seconds == pytest.approx((ETA_RUN.steps - status.step) * 0.3, rel=1e-9)


def test_a_queued_run_waits_for_the_measured_rate_too(tmp_path):
    loop = Loopback(tmp_path, max_ensemble=1)
    first = loop.scheduler.submit(ETA_RUN, "a", None)
    queued = loop.scheduler.submit(ETA_RUN.replace(seed=9), "b", None)
    status = advance(loop, first, 0.3, 3)
    assert loop.status(queued).eta_seconds is None
    assert "estimating how long…" in loop.status(queued).message
    status = advance(loop, first, 0.3, 10)
    waiting = loop.status(queued)
    assert waiting.state == "queued"
    expected = status.eta_seconds + ETA_RUN.steps * 0.3  # the first's time left, then its own
    assert waiting.eta_seconds == pytest.approx(expected, rel=1e-9)
    assert f"about {expected:.0f} s in all." in waiting.message


def test_training_says_whether_a_submit_would_join_a_run_in_progress(tmp_path):
    loop = Loopback(tmp_path)
    assert not loop.scheduler.training(TINY)
    ticket = loop.scheduler.submit(TINY, "me", None)
    assert loop.scheduler.training(TINY) and not loop.scheduler.training(TINY.replace(seed=5))
    training(loop, ticket)
    loop.scheduler.pause(ticket)
    loop.until(ticket, lambda s: s.state == "paused")
    assert not loop.scheduler.training(TINY), "a paused run is its session's, not joined"
    loop.scheduler.resume(ticket)
    loop.until(ticket, lambda s: s.state == "done")
    assert not loop.scheduler.training(TINY)
