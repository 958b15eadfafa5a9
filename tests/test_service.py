"""The training service (vae_core.serving) and the engine's determinism it relies on.

Determinism is asserted exactly (bit for bit): on CPU with one torch thread a member's arithmetic
does not depend on what trains beside it (vae_core.training explains how), so there is no
rounding to allow for. A GPU may pick other kernels per batch size; these tests run on CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from vae_core import TrainConfig, train, train_many
from vae_core.cache import lookup
from vae_core.model import batched_affine
from vae_core.serving import ServerBusy, TrainingService
from vae_core.serving import worker as worker_module

SMALL = TrainConfig(
    prior="mog",
    posterior="mog",
    steps=300,
    n_train=200,
    n_test=200,
    hidden=16,
    eval_every=50,
    # Wide noise: the exact evaluations of an unconverged model are cheapest there (at σ = 0.03
    # a young MoG posterior's per-component ELBO took seconds per evaluation).
    noise_std=0.2,
    seed=1,
)
WAIT = 120  # s: a generous bound for a few hundred steps on a loaded 2-core machine


def assert_same_run(a, b):
    assert a.status == b.status and a.steps_run == b.steps_run
    pd.testing.assert_frame_equal(a.history, b.history, check_exact=True)
    np.testing.assert_array_equal(a.snapshot_steps, b.snapshot_steps)
    np.testing.assert_array_equal(a.snapshot_aligned, b.snapshot_aligned)
    assert a.metrics == b.metrics
    for name, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[name]), name


def wait_for(service, ticket, states=("done",), timeout=WAIT, step_at_least=0):
    deadline = time.monotonic() + timeout
    while True:
        status = service.status(ticket)
        if status.state in states and status.step >= step_at_least:
            return status
        assert status.state != "failed" or "failed" in states, status.message
        assert time.monotonic() < deadline, f"still {status.state} at step {status.step}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def alone():
    return train(SMALL)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    started = TrainingService(tmp_path_factory.mktemp("service-cache"), workers=1, read_only_dirs=())
    yield started
    started.close()


# ----- the engine: a member's numbers depend on its own config only ---------------------------


def test_same_config_alone_with_its_seeds_and_beside_other_noise_levels(alone):
    with_seeds = train_many([SMALL.replace(seed=0), SMALL, SMALL.replace(seed=2)])[1]
    with_strangers = train_many(
        [
            SMALL.replace(noise_std=0.1, seed=5),
            SMALL.replace(seed=9, lr=0.03),
            SMALL.replace(noise_std=0.1, steps=500),
            SMALL,
        ]
    )[3]
    assert_same_run(with_seeds, alone)
    assert_same_run(with_strangers, alone)


def test_default_widths_alone_and_at_every_position_of_an_ensemble():
    """The app's own shapes (hidden 50, minibatches of 100, M = 10): with the first layers as
    batched matmuls a member at an odd position of a batch rounded differently from one alone,
    within 10 steps, and trained to another model (SMALL's widths of 16 hid it)."""
    config = TrainConfig(prior="gaussian", posterior="mog", steps=120, eval_every=40, seed=1)
    alone = train(config)
    others = [config.replace(seed=20 + i, noise_std=0.2) for i in range(3)]
    for position in (1, 2, 3):
        batch = others[:position] + [config] + others[position:]
        assert_same_run(train_many(batch)[position], alone)


@pytest.mark.parametrize("n_in, n_out", [(1, 50), (50, 50), (50, 1), (50, 20), (1, 2)])
def test_a_layer_gives_every_member_the_same_bits_alone_and_at_any_position(n_in, n_out):
    """vae_core.model.batched_affine, forward and gradients, for every shape the MLPs use."""
    generator = torch.Generator().manual_seed(0)

    def layer_and_grads(bias, x, weight, upstream):
        bias, x, weight = (t.clone().requires_grad_() for t in (bias, x, weight))
        out = batched_affine(bias, x, weight)
        return [out.detach(), *torch.autograd.grad(out, (bias, x, weight), upstream)]

    members = 5
    tensors = [
        torch.randn(shape, generator=generator)
        for shape in [
            (members, 1, n_out),
            (members, 100, n_in),
            (members, n_in, n_out),
            (members, 100, n_out),
        ]
    ]
    together = layer_and_grads(*tensors)
    for member in range(members):
        alone = layer_and_grads(*(t[member : member + 1] for t in tensors))
        for in_batch, by_itself in zip(together, alone, strict=True):
            assert torch.equal(in_batch[member : member + 1], by_itself)


def test_early_stop_is_decided_per_member():
    """Members stopping early (or not) at their own steps leave the others unchanged."""
    configs = [SMALL.replace(steps=1000, seed=3), SMALL.replace(steps=1000, seed=4, early_stop=False)]
    together = train_many(configs)
    assert together[0].steps_run < together[1].steps_run == 1000  # one left the ensemble early
    for config, member in zip(configs, together, strict=True):
        assert_same_run(member, train(config))


# ----- the service ------------------------------------------------------------------------------


def test_service_result_equals_the_in_process_one_and_is_cached(service, alone, tmp_path):
    ticket = service.submit(SMALL, "a")
    other = service.submit(SMALL.replace(seed=2, noise_std=0.1), "b")
    status = wait_for(service, ticket)
    assert_same_run(status.result, alone)
    wait_for(service, other)
    assert_same_run(lookup(SMALL, [service.cache_dir]), alone)  # what a restarted server finds


def test_sessions_asking_for_one_config_share_one_training(service):
    config = SMALL.replace(seed=11)
    before = len(service.trained)
    tickets = [service.submit(config, f"s{i}") for i in range(3)]
    results = [wait_for(service, t).result for t in tickets]
    assert len(service.trained) == before + 1
    assert results[0] is results[1] is results[2]
    again = service.submit(config, "late")  # cached now: done at once
    assert service.status(again).state == "done"


def test_one_pending_request_per_session(service):
    first = service.submit(SMALL.replace(seed=20, steps=5000, early_stop=False), "me")
    second = service.submit(SMALL.replace(seed=21, steps=200), "me")
    assert service.status(first).state == "released"
    wait_for(service, second)


def test_paused_stepped_and_resumed_run_equals_an_uninterrupted_one(service):
    config = SMALL.replace(seed=30, steps=400, early_stop=False)
    ticket = service.submit(config, "pauser")
    wait_for(service, ticket, ("training",), step_at_least=40)
    service.pause(ticket)
    paused = wait_for(service, ticket, ("paused",))
    service.step(ticket, 7)
    stepped = wait_for(service, ticket, ("paused",), step_at_least=paused.step + 7)
    assert stepped.step == paused.step + 7
    assert stepped.weights is not None and len(stepped.train_elbo) == stepped.step
    service.resume(ticket)
    assert_same_run(wait_for(service, ticket).result, train(config))


def test_a_stopped_member_leaves_its_ensemble_mates_identical(service):
    mate = SMALL.replace(seed=40, steps=600, early_stop=False)
    stopped = SMALL.replace(seed=41, steps=5000, early_stop=False)
    mate_ticket = service.submit(mate, "mate")
    stop_ticket = service.submit(stopped, "stopper")
    wait_for(service, stop_ticket, ("training",), step_at_least=50)
    assert service.status(stop_ticket).ensemble_size == 2
    service.stop(stop_ticket)
    partial = wait_for(service, stop_ticket).result
    assert partial.status == "stopped" and 50 <= partial.steps_run < 5000
    assert service.lookup(stopped) is None, "a stopped run is never cached"
    assert_same_run(wait_for(service, mate_ticket).result, train(mate))
    again = service.submit(stopped, "stopper")  # Train again: continues the stopped run
    assert again == stop_ticket
    assert wait_for(service, stop_ticket, ("training", "done")).step >= partial.steps_run
    service.release(stop_ticket)


def test_train_after_stop_continues_to_the_uninterrupted_result(service):
    config = SMALL.replace(seed=42, steps=500, early_stop=False)
    ticket = service.submit(config, "again")
    wait_for(service, ticket, ("training",), step_at_least=30)
    service.stop(ticket)
    assert wait_for(service, ticket).result.status == "stopped"
    assert service.submit(config, "again") == ticket
    assert_same_run(wait_for(service, ticket, step_at_least=500).result, train(config))


def test_progress_exposes_history_and_current_weights(service):
    ticket = service.submit(SMALL.replace(seed=50, steps=2000, early_stop=False), "watcher")
    assert service.status(ticket, live=True).weights is None  # live: weights from now on
    first = wait_for(service, ticket, ("training",), step_at_least=1)
    later = wait_for(service, ticket, ("training",), step_at_least=first.step + 120)
    assert later.version > first.version and later.max_steps == 2000
    assert len(later.train_elbo) == later.step and np.isfinite(later.train_elbo).all()
    assert later.evaluations and later.evaluations[0][0] == 50
    assert set(later.weights) >= {"decoder.weights.0", "encoder.weights.2"}
    assert "step" in later.message
    # The time left, once this run's own rate is measured (scheduler.MIN_MEASURED_SECONDS).
    measured = wait_for_eta(service, ticket)
    assert measured.eta_seconds > 0 and "s left" in measured.message
    service.release(ticket)


def wait_for_eta(service, ticket, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while (status := service.status(ticket)).eta_seconds is None:
        assert status.state == "training", f"{status.state} before its time left was measured"
        assert time.monotonic() < deadline, "the time left was never measured"
        time.sleep(0.05)
    return status


def test_a_full_queue_says_so(tmp_path):
    service = TrainingService(tmp_path, workers=1, max_ensemble=1, max_waiting=1, read_only_dirs=())
    try:
        long = SMALL.replace(steps=50000, early_stop=False)
        service.submit(long.replace(seed=1), "a")  # training
        service.submit(long.replace(seed=2), "b")  # waiting
        with pytest.raises(ServerBusy, match="busy: 1 models are waiting"):
            service.submit(long.replace(seed=3), "c")
    finally:
        service.close()


def test_a_killed_worker_is_restarted_and_its_requests_can_be_retried(tmp_path):
    service = TrainingService(tmp_path, workers=1, read_only_dirs=())
    try:
        cached = service.submit(SMALL.replace(seed=60, steps=100), "x")
        wait_for(service, cached)
        ticket = service.submit(SMALL.replace(seed=61, steps=50000, early_stop=False), "y")
        wait_for(service, ticket, ("training",), step_at_least=5)
        os.kill(service._workers[0].process.pid, signal.SIGKILL)
        failed = wait_for(service, ticket, ("failed",))
        assert failed.retryable and "try again" in failed.message
        assert service.lookup(SMALL.replace(seed=60, steps=100)) is not None  # nothing lost
        retried = service.submit(SMALL.replace(seed=62, steps=100), "y")
        assert wait_for(service, retried).result.status in ("completed", "converged")
    finally:
        service.close()


KILLED_SERVER = """
import os, sys, time
from vae_core.config import TrainConfig
from vae_core.serving import TrainingService
service = TrainingService(sys.argv[1], workers=2, read_only_dirs=())
service.submit(TrainConfig(steps=50000, early_stop=False, seed=5), "a")
service.submit(TrainConfig(steps=50000, early_stop=False, seed=6), "b")
while not service.ready():
    time.sleep(0.05)
print(" ".join(str(w.process.pid) for w in service._workers), flush=True)
os._exit(0)  # a server that dies without close(): its workers cannot be told to quit
"""


def test_workers_of_a_server_that_died_stop_training(tmp_path):
    """Orphaned workers would train on and take the cores from the next server."""
    pids = subprocess.run(
        [sys.executable, "-c", KILLED_SERVER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    ).stdout.split()
    assert len(pids) == 2
    deadline = time.monotonic() + 10 * worker_module.PARENT_CHECK_EVERY
    while time.monotonic() < deadline and any(_running(int(pid)) for pid in pids):
        time.sleep(0.1)
    assert not any(_running(int(pid)) for pid in pids), "a worker outlived its server"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (nobody reaped it yet)


def test_workers_train_at_a_lower_priority_than_the_server(tmp_path):
    service = TrainingService(tmp_path, workers=1, read_only_dirs=())
    try:
        while not service.ready():
            time.sleep(0.05)
        worker = service._workers[0].process.pid
        niceness = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert niceness >= os.nice(0) + worker_module.WORKER_NICENESS or niceness == 19
    finally:
        service.close()


def test_two_servers_sharing_a_cache_folder_train_a_config_once(tmp_path):
    """App replicas share the cache folder: the second asker waits for the first's result."""
    first = TrainingService(tmp_path, workers=1, read_only_dirs=())
    second = TrainingService(tmp_path, workers=1, read_only_dirs=())
    try:
        config = SMALL.replace(seed=70, steps=400)
        a = first.submit(config, "a")
        wait_for(first, a, ("training",), step_at_least=1)
        b = second.submit(config, "b")
        waiting = second.status(b)
        assert waiting.state == "queued" and "Another server" in waiting.message
        done_a, done_b = wait_for(first, a), wait_for(second, b)
        assert len(first.trained) == 1 and not second.trained
        assert done_b.result.metrics == done_a.result.metrics
        assert not list((tmp_path / ".claims").iterdir()), "claims are removed when done"
    finally:
        first.close()
        second.close()


def test_a_closed_tab_releases_its_request_unless_another_session_waits(tmp_path, monkeypatch):
    monkeypatch.setattr("vae_core.serving.scheduler.GONE_GRACE", 0.0)
    connected = {"alice": True, "bob": True, "carol": True}
    service = TrainingService(
        tmp_path, workers=1, read_only_dirs=(), session_alive=lambda owner: connected[owner]
    )
    try:
        long = SMALL.replace(steps=50000, early_stop=False)
        alone = service.submit(long.replace(seed=80), "alice")
        shared = [service.submit(long.replace(seed=81), who) for who in ("bob", "carol")]
        wait_for(service, alone, ("training",), step_at_least=1)
        connected["alice"] = connected["bob"] = False  # their tabs closed
        deadline = time.monotonic() + WAIT
        while service.status(shared[1]).state == "training" and len(service.jobs) > 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
            service.status(shared[1])  # carol's page keeps watching
        assert service.status(alone).state == "released"
        assert service.status(shared[1]).state == "training"  # carol still has hers
        assert len(service.jobs) == 1
    finally:
        service.close()
