"""The app's shared store: two sessions asking for one untrained config train it once."""

import threading

import ui
from vae_core.config import TrainConfig

SMALL = TrainConfig(steps=150, eval_every=50, n_train=200, n_test=200, batch_size=100, hidden=16)


def test_concurrent_requests_share_one_training_job(tmp_path, monkeypatch):
    calls = []
    release = threading.Event()
    real = ui.train_many

    def slow_counting(configs, *args, **kwargs):
        calls.append(len(configs))
        release.wait(timeout=30)  # hold the job open while the second session asks
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(ui, "train_many", slow_counting)
    store = ui.ResultStore(tmp_path)
    first = store.start([SMALL])
    second = store.start([SMALL])
    assert second is first
    assert store.job_for([SMALL]) is first
    release.set()
    assert first.done.wait(timeout=120)
    assert calls == [1]
    assert first.results[0].status in ("converged", "completed")
    assert store.get(SMALL) is first.results[0]
    assert store.job_for([SMALL]) is None


def test_results_survive_a_restart_through_the_disk_cache(tmp_path):
    store = ui.ResultStore(tmp_path)
    job = store.start([SMALL])
    assert job.done.wait(timeout=120)
    restarted = ui.ResultStore(tmp_path)  # a new process: empty memory, same disk
    loaded = restarted.get(SMALL)
    assert loaded is not None
    assert loaded.metrics == job.results[0].metrics


def test_a_stopped_job_keeps_its_partial_result_but_does_not_share_it(tmp_path):
    store = ui.ResultStore(tmp_path)
    job = store.start([SMALL.replace(seed=3, steps=5000, early_stop=False)])
    job.stop_requested.set()
    assert job.done.wait(timeout=120)
    partial = job.results[0]
    assert partial.status == "stopped" and partial.steps_run < 5000
    assert store.get(partial.config) is None
