"""A class pressing Train at once: the training service against the old one-thread-per-job path.

N simulated sessions (default N = 1, 20, 100) each submit a distinct seed of the heaviest default
(MoG prior + MoG posterior, M = 10, σ = 0.1) at the same moment, the way the pages do, and each
watches its request like its page would. The service path reads `status()` every 0.25 s, or
every 1 s once 4 requests train (the page's progress fragment), and draws the live ELBO figure.
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
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.baseline_store import ResultStore  # noqa: E402
from vae_core import figures  # noqa: E402
from vae_core.config import TrainConfig  # noqa: E402
from vae_core.service import TrainingService, default_workers  # noqa: E402

HEAVIEST = TrainConfig(prior="mog", posterior="mog", n_components=10, noise_std=0.1)
# The page's fragment intervals (dashboard.training_panel.PROGRESS_EVERY / PROGRESS_EVERY_BUSY,
# dashboard.service_client.BUSY_SESSIONS).
SERVICE_POLL, SERVICE_POLL_BUSY, BUSY_SESSIONS = 0.25, 2.0, 4
BASELINE_POLL = 0.3  # the old page loop's interval


def rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def threads_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def page_work() -> None:
    """What a latecomer's page load costs the server: the Ground truth page's figures, uncached."""
    figures.true_posterior_heatmap(0.1).to_json()
    figures.true_marginal_figure(0.1).to_json()


class Latecomer:
    """A visitor loading a page every second while the class trains: its latency, s."""

    def __init__(self):
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(1.0):
            started = time.perf_counter()
            page_work()
            self.latencies.append(time.perf_counter() - started)

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        if not self.latencies:
            return float("nan"), float("nan")
        return statistics.median(self.latencies), max(self.latencies)


class ThreadSampler:
    def __init__(self):
        self.peak = threads_now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, threads_now())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def live_figure(steps_elbo: np.ndarray, config: TrainConfig) -> None:
    """The page's live chart, built as the page builds it (the UI work each poll costs)."""
    if len(steps_elbo):
        figures.live_elbo_figure(
            np.arange(1, len(steps_elbo) + 1), steps_elbo.reshape(-1, 1), [config.model_name], config.steps
        ).to_json()


def run_service(configs: list[TrainConfig], workers: int, timeout: float) -> dict:
    service = TrainingService(tempfile.mkdtemp(prefix="bench-class-"), workers=workers, read_only_dirs=())
    while not service.ready():  # the app starts its workers with the server, before any class
        time.sleep(0.05)
    sampler, latecomer = ThreadSampler(), Latecomer()
    started = time.perf_counter()
    finished: list[float] = [float("nan")] * len(configs)

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
        finished[index] = time.perf_counter() - started

    # The sessions are the server's own (Tornado) threads in the app; here one thread each.
    threads = [threading.Thread(target=session, args=(i, c)) for i, c in enumerate(configs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    peak_threads = sampler.stop()
    rss = rss_mb() + sum(rss_mb(w.process.pid) for w in service._workers)
    service.close()
    return summary(finished, wall, peak_threads, rss, latecomer.stop())


def run_baseline(configs: list[TrainConfig], timeout: float) -> dict:
    store = ResultStore()
    sampler, latecomer = ThreadSampler(), Latecomer()
    started = time.perf_counter()
    finished: list[float] = [float("nan")] * len(configs)

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
        finished[index] = time.perf_counter() - started

    threads = [threading.Thread(target=session, args=(i, c)) for i, c in enumerate(configs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return summary(finished, wall, sampler.stop(), rss_mb(), latecomer.stop())


def summary(
    finished: list[float], wall: float, peak_threads: int, rss: float, latecomer: tuple[float, float]
) -> dict:
    done = [t for t in finished if t == t]
    return {
        "done": len(done),
        "asked": len(finished),
        "median_s": statistics.median(done) if done else float("nan"),
        "max_s": max(done) if done else float("nan"),
        "models_per_s": len(done) / wall,
        "wall_s": wall,
        "peak_threads": peak_threads,
        "peak_rss_mb": rss,
        "page_median_s": latecomer[0],
        "page_max_s": latecomer[1],
    }


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
        f"cores: {os.cpu_count()}, load average at start: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"service workers: {args.workers or default_workers()}"
    )
    idle = []
    for _ in range(5):
        started = time.perf_counter()
        page_work()
        idle.append(time.perf_counter() - started)
    print(f"latecomer page work on an idle server: {statistics.median(idle):.3f} s (median of 5)")
    print(
        "| N | path | done | median s | max s | models/s | peak threads | peak RSS MB "
        "| latecomer page median / max s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sessions:
        configs = [HEAVIEST.replace(seed=1000 + i) for i in range(n)]
        rows = [("service", run_service(configs, args.workers, args.timeout))]
        if not args.skip_baseline:
            rows.append(("baseline (thread per job)", run_baseline(configs, args.timeout)))
        for name, row in rows:
            print(
                f"| {n} | {name} | {row['done']}/{row['asked']} | {row['median_s']:.2f} | "
                f"{row['max_s']:.2f} | {row['models_per_s']:.2f} | {row['peak_threads']} | "
                f"{row['peak_rss_mb']:.0f} | {row['page_median_s']:.2f} / "
                f"{row['page_max_s']:.2f} |",
                flush=True,
            )
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
