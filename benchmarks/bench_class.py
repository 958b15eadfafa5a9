"""A class pressing Train at once: the training service against the old one-thread-per-job path.

N simulated sessions (default N = 1, 20, 100) each submit a distinct seed of the heaviest default
(MoG prior + MoG posterior, M = 10, σ = 0.1) at the same moment, the way the pages do, and each
watches its request like its page would. The service path reads `status()` every 0.25 s, or
every 2 s once 4 sessions wait (the page's progress fragment), and draws the live ELBO figure.
The baseline path (benchmarks/baseline_store.py, the app's code before the service) polls its
job every 0.3 s and draws the same figure, as the old page loop did. The sessions are threads of
this one process (a server's), both paths run one after the other in the same run.

Reported: time from the common start to each session's result (median, max), models per
second, peak RSS (this process plus the worker processes), the peak thread count of this
process, and how long a latecomer's page takes to build meanwhile (the Ground truth page's
figures, once a second, in this process as a server would build them).

    python -m benchmarks.bench_class               # N = 1, 20, 100
    python -m benchmarks.bench_class --sessions 20 --workers 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.baseline_store import ResultStore
from benchmarks.common import (
    Stopwatch,
    finished,
    load_average,
    md_row,
    md_rule,
    median_and_max,
    peak_rss_mb,
    proc_status,
)
from vae_core.config import TrainConfig
from vae_core.plots import live, truth
from vae_core.serving import TrainingService, default_workers

HEAVIEST = TrainConfig(prior="mog", posterior="mog", n_components=10, noise_std=0.1)
# The page's fragment intervals (dashboard.training_panel.PROGRESS_EVERY / PROGRESS_EVERY_BUSY,
# dashboard.service_client.BUSY_SESSIONS).
SERVICE_POLL, SERVICE_POLL_BUSY, BUSY_SESSIONS = 0.25, 2.0, 4
BASELINE_POLL = 0.3  # the old page loop's interval
IDLE_PAGE_RUNS = 5


def page_work() -> None:
    """What a latecomer's page load costs the server: the Ground truth page's figures, uncached."""
    truth.true_posterior_heatmap(0.1).to_json()
    truth.true_marginal_figure(0.1).to_json()


def live_figure(steps_elbo: np.ndarray, config: TrainConfig) -> None:
    """The page's live chart, built as the page builds it (the UI work each poll costs)."""
    if len(steps_elbo):
        live.live_elbo_figure(
            np.arange(1, len(steps_elbo) + 1), steps_elbo.reshape(-1, 1), [config.model_name], config.steps
        ).to_json()


class Every:
    """Calls `action` every `interval` s in a daemon thread until stop()."""

    def __init__(self, interval: float, action: Callable[[], None]):
        self._interval, self._action = interval, action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._action()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Latecomer:
    """A visitor loading a page every second while the class trains: its latency, s."""

    def __init__(self):
        self.latencies: list[float] = []
        self._every = Every(1.0, self._load_page)

    def _load_page(self) -> None:
        with Stopwatch() as watch:
            page_work()
        self.latencies.append(watch.wall)

    def stop(self) -> tuple[float, float]:
        """Median and max latency."""
        self._every.stop()
        return median_and_max(self.latencies)


class ThreadSampler:
    """The peak thread count of this process, sampled every 0.1 s."""

    def __init__(self):
        self.peak = proc_status("Threads")
        self._every = Every(0.1, self._sample)

    def _sample(self) -> None:
        self.peak = max(self.peak, proc_status("Threads"))

    def stop(self) -> int:
        self._every.stop()
        return self.peak


def run_sessions(session: Callable[[int, TrainConfig], None], configs: list[TrainConfig]) -> None:
    """One thread per session, as the server's own (Tornado) threads serve them in the app."""
    threads = [threading.Thread(target=session, args=(i, c)) for i, c in enumerate(configs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_service(configs: list[TrainConfig], workers: int | None, timeout: float) -> dict:
    service = TrainingService(tempfile.mkdtemp(prefix="bench-class-"), workers=workers, read_only_dirs=())
    while not service.ready():  # the app starts its workers with the server, before any class
        time.sleep(0.05)
    sampler, latecomer = ThreadSampler(), Latecomer()
    started = time.perf_counter()
    seconds: list[float] = [float("nan")] * len(configs)

    def session(index: int, config: TrainConfig) -> None:
        ticket = service.submit(config, f"session{index}")
        while True:
            status = service.status(ticket)
            if status.state in ("done", "failed"):
                break
            if time.perf_counter() - started > timeout:
                return
            live_figure(status.train_elbo, config)
            busy = service.sessions_waiting() >= BUSY_SESSIONS
            time.sleep(SERVICE_POLL_BUSY if busy else SERVICE_POLL)
        seconds[index] = time.perf_counter() - started

    run_sessions(session, configs)
    wall = time.perf_counter() - started
    peak_threads = sampler.stop()
    rss = peak_rss_mb() + sum(peak_rss_mb(w.process.pid) for w in service._workers)
    service.close()
    return summary(seconds, wall, peak_threads, rss, latecomer.stop())


def run_baseline(configs: list[TrainConfig], timeout: float) -> dict:
    store = ResultStore()
    sampler, latecomer = ThreadSampler(), Latecomer()
    started = time.perf_counter()
    seconds: list[float] = [float("nan")] * len(configs)

    def session(index: int, config: TrainConfig) -> None:
        job = store.start([config])
        while not job.done.wait(timeout=BASELINE_POLL):
            if time.perf_counter() - started > timeout:
                job.stop_requested.set()
                # Let its thread see the request: one left inside a torch op aborts the
                # interpreter at exit ("terminate called without an active exception").
                job.done.wait(timeout=60)
                return
            progress = job.progress
            if progress is not None:
                live_figure(progress.train_elbo[:, 0], config)
        seconds[index] = time.perf_counter() - started

    run_sessions(session, configs)
    wall = time.perf_counter() - started
    return summary(seconds, wall, sampler.stop(), peak_rss_mb(), latecomer.stop())


def summary(
    seconds: list[float], wall: float, peak_threads: int, rss: float, latecomer: tuple[float, float]
) -> dict:
    """One path's row: `seconds` from the common start to each session's result (NaN: none)."""
    median_s, max_s = median_and_max(seconds)
    done = finished(seconds)
    return {
        "done": done,
        "asked": len(seconds),
        "median_s": median_s,
        "max_s": max_s,
        "models_per_s": done / wall,
        "wall_s": wall,
        "peak_threads": peak_threads,
        "peak_rss_mb": rss,
        "page_median_s": latecomer[0],
        "page_max_s": latecomer[1],
    }


def idle_page_seconds() -> float:
    """The latecomer's page work on an idle server, median of IDLE_PAGE_RUNS."""
    times = []
    for _ in range(IDLE_PAGE_RUNS):
        with Stopwatch() as watch:
            page_work()
        times.append(watch.wall)
    return statistics.median(times)


def table_header() -> list[str]:
    return [
        md_row(
            "N",
            "path",
            "done",
            "median s",
            "max s",
            "models/s",
            "peak threads",
            "peak RSS MB",
            "latecomer page median / max s",
        ),
        md_rule(*["---"] * 9),
    ]


def table_row(n: int, path: str, row: dict) -> str:
    return md_row(
        n,
        path,
        f"{row['done']}/{row['asked']}",
        f"{row['median_s']:.2f}",
        f"{row['max_s']:.2f}",
        f"{row['models_per_s']:.2f}",
        row["peak_threads"],
        f"{row['peak_rss_mb']:.0f}",
        f"{row['page_median_s']:.2f} / {row['page_max_s']:.2f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument(
        "--workers", type=int, default=None, help="service worker processes (default: the service's own)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=400.0,
        help="give up on a path after this many seconds (reported as done k/N)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as app.py
    print(
        f"cores: {os.cpu_count()}, load average at start: {load_average()}; "
        f"service workers: {args.workers or default_workers()}"
    )
    print(f"latecomer page work on an idle server: {idle_page_seconds():.3f} s (median of {IDLE_PAGE_RUNS})")
    print("\n".join(table_header()))
    for n in args.sessions:
        configs = [HEAVIEST.replace(seed=1000 + i) for i in range(n)]
        print(table_row(n, "service", run_service(configs, args.workers, args.timeout)), flush=True)
        if not args.skip_baseline:
            row = run_baseline(configs, args.timeout)
            print(table_row(n, "baseline (thread per job)", row), flush=True)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
