"""bench_train's measurements; each runs in a fresh Python process and prints one JSON object.

    python -m benchmarks.bench_train_workers KIND [--threads N] [--ref-steps N]

A fresh process per measurement, so each trainer's peak RSS is its own and neither inherits the
other's warm caches. Every worker warms up (imports, a 10-step run) before it starts the clock.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import resource
from pathlib import Path

import torch

from benchmarks.common import Stopwatch
from benchmarks.paper_comparison import label, model_type_name, paper_configs
from benchmarks.reference_trainer import DEFAULT_REFERENCE_STEPS, train_reference
from vae_core.config import TrainConfig
from vae_core.paper import PAPER_MODELS
from vae_core.training import run_ensemble, train, train_many

VAE_CORE = Path(__file__).resolve().parents[1] / "vae_core"
SINGLE_REPS = 5
SWEEP_CHECKPOINTS = tuple(range(250, 3001, 250))
PROFILE_TOP = 12
# Where the profiled time goes: (file, function) of the project's own code, matched by name.
GROUND_TRUTH_LOG_MARGINAL = ("ground_truth.py", "log_marginal")
VAE_ELBO = ("model.py", "elbo")
ADAM_STEP = ("optim.py", "adam_step")


def vae_core_fingerprint() -> str:
    """Hash of the vae_core sources: the code under test, which others may be editing meanwhile."""
    digest = hashlib.sha256()
    for path in sorted(VAE_CORE.rglob("*.py"), key=lambda p: p.relative_to(VAE_CORE).as_posix()):
        digest.update(path.relative_to(VAE_CORE).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def max_rss_mb() -> float:
    """This process's peak resident memory so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ----- the measurements --------------------------------------------------------------------------


def measure_reference(steps: int) -> dict:
    """The 9 models one after the other with the plain PyTorch loop, a fixed number of steps."""
    train_reference(TrainConfig(), steps=10)  # warm-up: imports, allocator, first Adam
    baseline = max_rss_mb()
    models = []
    with Stopwatch() as watch:
        for config in paper_configs():
            result = train_reference(config, steps=steps)
            models.append(
                {
                    "label": label(config),
                    "steps": result.steps,
                    "train_seconds": result.train_seconds,
                    "eval_seconds": result.eval_seconds,
                    "test_log_likelihood": result.test_log_likelihood,
                }
            )
    return {
        "wall_seconds": watch.wall,
        "cpu_seconds": watch.cpu,
        "models": models,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": max_rss_mb(),
    }


def measure_project() -> dict:
    """The 9 models with train_many: three ensembles, early stopping, every exact diagnostic."""
    train(TrainConfig(steps=10))  # warm-up
    baseline = max_rss_mb()
    configs = paper_configs()
    with Stopwatch() as watch:
        results = train_many(configs)
    models = [
        {
            "label": label(r.config),
            "steps": r.steps_run,
            "status": r.status,
            "group_loop_seconds": r.train_seconds,
            "test_log_likelihood": r.metrics.get("test_log_likelihood", float("nan")),
        }
        for r in results
    ]
    return {
        "wall_seconds": watch.wall,
        "cpu_seconds": watch.cpu,
        "models": models,
        "groups": ensemble_rows(models, configs),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": max_rss_mb(),
    }


def ensemble_rows(models: list[dict], configs: list[TrainConfig]) -> list[dict]:
    """One row per model type: the ensemble's steps and loop time."""
    rows = []
    for prior, posterior in PAPER_MODELS:
        members = [
            m for m, c in zip(models, configs, strict=True) if (c.prior, c.posterior) == (prior, posterior)
        ]
        # The ensemble runs until its last member has converged: its steps are the maximum.
        rows.append(
            {
                "model": model_type_name(prior, posterior),
                "steps": max(m["steps"] for m in members),
                "loop_seconds": members[0]["group_loop_seconds"],
            }
        )
    return rows


def measure_single() -> dict:
    """One default model, `train(TrainConfig())`, SINGLE_REPS times."""
    train(TrainConfig(steps=10))
    times, steps = [], []
    for _ in range(SINGLE_REPS):
        with Stopwatch() as watch:
            result = train(TrainConfig())
        times.append(watch.wall)
        steps.append(result.steps_run)
    return {"seconds": times, "steps": steps, "peak_rss_mb": max_rss_mb()}


def measure_sweep() -> dict:
    """The reference's exact test log p_θ(y) every 250 steps: where does it stop improving?"""
    curves = []
    for config in paper_configs():
        result = train_reference(
            config, steps=max(SWEEP_CHECKPOINTS), evaluate=False, checkpoints=SWEEP_CHECKPOINTS
        )
        curves.append({"label": label(config), "values": [result.checkpoints[c] for c in SWEEP_CHECKPOINTS]})
    return {"checkpoints": list(SWEEP_CHECKPOINTS), "curves": curves}


# ----- the profile ---------------------------------------------------------------------------------


def measure_profile() -> dict:
    """cProfile of the paper comparison's ensembles, one after the other."""
    train(TrainConfig(steps=10))
    profiler, wall = profile_ensembles(paper_configs())
    rows = profile_rows(pstats.Stats(profiler))
    calls, _ = function_totals(rows, GROUND_TRUTH_LOG_MARGINAL)
    return {
        "wall_seconds": wall,
        "top_tottime": sorted(rows, key=lambda r: -r["tottime"])[:PROFILE_TOP],
        "parts": main_parts(rows),
        "ground_truth_calls": calls,
    }


def profile_ensembles(configs: list[TrainConfig]) -> tuple[cProfile.Profile, float]:
    # cProfile sees only the thread it runs in, and train_many trains its ensembles in worker
    # threads: profile the same per-ensemble code here, one ensemble after the other.
    ensembles: dict[tuple, list[TrainConfig]] = {}
    for config in configs:
        ensembles.setdefault(config.ensemble_key(), []).append(config)
    profiler = cProfile.Profile()
    with Stopwatch() as watch:
        profiler.enable()
        for ensemble in ensembles.values():
            run_ensemble(ensemble)
        profiler.disable()
    return profiler, watch.wall


def profile_rows(stats: pstats.Stats) -> list[dict]:
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
        function = f"{Path(filename).name}:{line}({name})" if line else name
        rows.append({"function": function, "calls": calls, "tottime": tottime, "cumtime": cumtime})
    return rows


def main_parts(rows: list[dict]) -> dict[str, float]:
    """Cumulative seconds of the main parts; a name indented by two spaces is part of the one above."""
    return {
        "final metrics (metrics.evaluate, 9 models)": cumulative_containing(rows, "(evaluate)"),
        "  of which kl_marginal": cumulative_containing(rows, "(kl_marginal)"),
        "  of which ground_truth.log_marginal": function_totals(rows, GROUND_TRUTH_LOG_MARGINAL)[1],
        "forward: VAE.elbo (training steps + evaluations)": function_totals(rows, VAE_ELBO)[1],
        "backward (autograd engine)": cumulative_containing(rows, "run_backward"),
        "Adam step (by hand on the flat buffers)": function_totals(rows, ADAM_STEP)[1],
        "periodic history evaluations": cumulative_containing(rows, "(evaluate_history)"),
        "snapshots": cumulative_containing(rows, "(snapshot)"),
    }


def cumulative_containing(rows: list[dict], fragment: str) -> float:
    """The largest cumulative time of a profiled function whose name contains `fragment`."""
    return max((r["cumtime"] for r in rows if fragment in r["function"]), default=0.0)


def function_totals(rows: list[dict], where: tuple[str, str]) -> tuple[int, float]:
    """Calls (of the first match that took over 10 ms) and cumulative time (the largest match's) of
    function `name` in file `file`."""
    file, name = where
    matches = [r for r in rows if r["function"].startswith(file) and r["function"].endswith(f"({name})")]
    calls = next((r["calls"] for r in matches if r["cumtime"] > 0.01), 0)
    return calls, max((r["cumtime"] for r in matches), default=0.0)


# ----- the process's entry point ------------------------------------------------------------------

MEASUREMENTS = {
    "reference": measure_reference,
    "project": measure_project,
    "single": measure_single,
    "profile": measure_profile,
    "sweep": measure_sweep,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(MEASUREMENTS))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--ref-steps", type=int, default=DEFAULT_REFERENCE_STEPS)
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    fingerprint = vae_core_fingerprint()  # right after the imports at the top of this file
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    kwargs = {"steps": args.ref_steps} if args.kind == "reference" else {}
    result = MEASUREMENTS[args.kind](**kwargs)
    result.update(threads=torch.get_num_threads(), default_threads=default_threads, vae_core=fingerprint)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
