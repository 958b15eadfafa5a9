"""The messages between the web server and the workers (vae_core.serving.protocol): each one
pickles (the queues carry them), is frozen, and has a handler on the side that receives it."""

from __future__ import annotations

import dataclasses
import pickle
import queue
import typing

import numpy as np
import pandas as pd
import pytest
import torch

from vae_core.config import TrainConfig
from vae_core.serving import RequestState, Status, protocol
from vae_core.serving.leases import Leases
from vae_core.serving.scheduler import Scheduler
from vae_core.serving.worker import Worker
from vae_core.training import Member, TrainResult, train

TINY = TrainConfig(steps=10, n_train=50, n_test=50, hidden=4, batch_size=10, eval_every=5, early_stop=False)


@pytest.fixture(scope="module")
def result() -> TrainResult:
    return train(TINY)


@pytest.fixture(scope="module")
def checkpoint():
    return Member(TINY).checkpoint


def examples(result, checkpoint) -> list:
    """One message of every class, with real payloads (checkpoints, results, weights)."""
    weights = {k: v.clone() for k, v in checkpoint.weights.items()}
    key = TINY.ensemble_key()
    return [
        protocol.Add("r1", TINY, checkpoint, 7, True),
        protocol.Finish("r1", TINY, None),
        protocol.PauseAt("r1", None),
        protocol.Watch("r1"),
        protocol.Fork("r1", "r2"),
        protocol.Pause("r1"),
        protocol.Stop("r1"),
        protocol.Drop("r1"),
        protocol.Quit(),
        protocol.Ready(0, 1e-3),
        protocol.Progress(0, "r1", 3, 1, [-1.5, -1.25], [(2, -1.0, -0.9)], weights, 2, 1e-3),
        protocol.Paused(0, "r1", key, checkpoint),
        protocol.Done(0, "r1", key, result, checkpoint),
        protocol.Forked(0, "r2", checkpoint),
        protocol.Dropped(0, "r1", key),
        protocol.Failed(0, "r1", key, "ValueError: no"),
    ]


def assert_same(a, b, where="message"):
    """Deep equality for what messages carry (tensors, arrays, frames, results, checkpoints)."""
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, torch.nn.Module):
        assert_same(a.state_dict(), b.state_dict(), f"{where}.state_dict")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif dataclasses.is_dataclass(a) and not isinstance(a, TrainConfig):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_the_examples_cover_every_message_class(result, checkpoint):
    assert {type(m) for m in examples(result, checkpoint)} == set(protocol.COMMANDS + protocol.EVENTS)


def test_the_message_lists_match_the_unions_and_the_module():
    assert typing.get_args(protocol.Command) == protocol.COMMANDS
    assert typing.get_args(protocol.Event) == protocol.EVENTS
    declared = {
        value
        for value in vars(protocol).values()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == protocol.__name__
    }
    assert declared == set(protocol.COMMANDS + protocol.EVENTS) | {Status}


def test_every_message_pickles_round_trip(result, checkpoint):
    for message in examples(result, checkpoint):
        assert_same(pickle.loads(pickle.dumps(message)), message, type(message).__name__)


def test_every_message_is_frozen(result, checkpoint):
    for message in examples(result, checkpoint):
        for f in dataclasses.fields(message):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(message, f.name, None)


def test_the_worker_has_a_handler_for_every_command(tmp_path):
    worker = Worker(0, queue.Queue(), tmp_path, "cpu", 1e-3)
    assert set(worker.handlers) == set(protocol.COMMANDS)


def test_the_scheduler_has_a_handler_for_every_event(tmp_path):
    scheduler = Scheduler([lambda: True], send=lambda index, command: None, leases=Leases(tmp_path))
    assert set(scheduler._handlers) == set(protocol.EVENTS)


def test_request_states_compare_as_the_strings_pages_use():
    assert RequestState.DONE == "done" and "paused" == RequestState.PAUSED
    assert [s.value for s in RequestState] == [
        "starting",
        "queued",
        "training",
        "paused",
        "done",
        "failed",
        "released",
        "forking",
    ]
    assert pickle.loads(pickle.dumps(RequestState.TRAINING)) is RequestState.TRAINING


def test_status_pickles_and_names_the_ensemble_size():
    status = Status("t1", TINY, RequestState.TRAINING, step=3, ensemble_size=2)
    assert_same(pickle.loads(pickle.dumps(status)), status)
    assert not hasattr(status, "batch_size")
