"""The app's training path before the training service (kept as the baseline of bench_class.py).

A copy of ui.ResultStore / TrainingJob as they were: every Train press started one thread in the
web server process running train_many for that session's configs; the page then polled the job
every 0.3 s. Only what the benchmark needs is kept (no disk cache, no Streamlit).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vae_core.config import TrainConfig
from vae_core.training import Progress, TrainResult, train_many


@dataclass
class TrainingJob:
    configs: list[TrainConfig]
    progress: Progress | None = None
    results: list[TrainResult] | None = None
    error: str = ""
    stop_requested: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class ResultStore:
    """One thread per job; a config being trained is joined by later askers."""

    def __init__(self):
        self.results: dict[str, TrainResult] = {}
        self.jobs: dict[str, TrainingJob] = {}
        self.lock = threading.Lock()

    def start(self, configs: list[TrainConfig]) -> TrainingJob:
        with self.lock:
            running = next((self.jobs[c.key()] for c in configs if c.key() in self.jobs), None)
            if running is not None:
                return running
            job = TrainingJob(configs=list(configs))
            for config in configs:
                self.jobs[config.key()] = job
        threading.Thread(target=self._run, args=(job,), daemon=True).start()
        return job

    def _run(self, job: TrainingJob) -> None:
        def on_progress(progress: Progress) -> None:
            job.progress = progress

        try:
            job.results = train_many(job.configs, on_progress, job.stop_requested.is_set)
            with self.lock:
                for result in job.results:
                    self.results[result.config.key()] = result
        except Exception as error:
            job.error = f"{type(error).__name__}: {error}"
        finally:
            with self.lock:
                for config in job.configs:
                    if self.jobs.get(config.key()) is job:
                        del self.jobs[config.key()]
            job.done.set()
