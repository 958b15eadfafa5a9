"""The worker's command handling (vae_core.serving.worker), in-process: every command for a
request the worker does not hold (it finished meanwhile) is a no-op, and a bad one fails its
request without taking the worker down."""

from __future__ import annotations

import queue

import pytest

from vae_core.config import TrainConfig
from vae_core.serving import protocol
from vae_core.serving.worker import Worker

TINY = TrainConfig(steps=10, n_train=50, n_test=50, hidden=4, batch_size=10, eval_every=5, early_stop=False)


@pytest.fixture
def worker(tmp_path):
    return Worker(0, queue.Queue(), tmp_path, "cpu", 1e-3)


def events(worker: Worker) -> list:
    found = []
    while not worker.outbox.empty():
        found.append(worker.outbox.get_nowait())
    return found


@pytest.mark.parametrize(
    "command",
    [
        protocol.PauseAt("gone", 3),
        protocol.Fork("gone", "fork"),
        protocol.Pause("gone"),
        protocol.Stop("gone"),
        protocol.Drop("gone"),
    ],
)
def test_a_command_for_a_request_the_worker_does_not_hold_is_a_no_op(worker, command):
    worker.handle(command)
    assert not events(worker) and not worker.members


def test_a_bad_checkpoint_fails_its_request_and_the_worker_goes_on(worker):
    worker.handle(protocol.Add("r1", TINY, object(), None, False))
    [failed] = events(worker)
    assert isinstance(failed, protocol.Failed) and failed.request == "r1"
    worker.handle(protocol.Add("r2", TINY, None, None, False))
    assert list(worker.members) == ["r2"]


def test_each_command_does_what_it_says(worker):
    worker.handle(protocol.Add("r1", TINY, None, 4, False))
    worker.handle(protocol.Watch("r1"))
    while worker.members:
        worker.step_all()
    *progress, paused = events(worker)
    assert isinstance(paused, protocol.Paused) and paused.checkpoint.step == 4
    assert progress[-1].weights is not None  # the final progress always carries them
    worker.handle(protocol.Add("r1", TINY, paused.checkpoint, None, False))
    worker.step_all()
    worker.handle(protocol.Fork("r1", "r2"))
    [forked] = [e for e in events(worker) if not isinstance(e, protocol.Progress)]
    assert isinstance(forked, protocol.Forked) and forked.request == "r2" and forked.checkpoint.step == 5
    worker.handle(protocol.Stop("r1"))
    [done] = events(worker)
    assert isinstance(done, protocol.Done) and done.result.status == "stopped" and done.result.steps_run == 5
    worker.handle(protocol.Finish("r2", TINY, forked.checkpoint))
    [finished] = events(worker)
    assert finished.result.status == "stopped" and finished.checkpoint is not None
    worker.handle(protocol.Add("r3", TINY, None, None, False))
    worker.handle(protocol.Drop("r3"))
    [dropped] = events(worker)
    assert isinstance(dropped, protocol.Dropped) and not worker.members
    worker.handle(protocol.Quit())
    assert worker.quitting
