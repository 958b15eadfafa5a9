"""Benchmark: the project's batched trainer against a plain PyTorch loop, on the paper comparison.

    python -m benchmarks.bench_train            # full run (~5 min), writes benchmarks/RESULTS.md
    python -m benchmarks.bench_train --quick    # smoke test of the script itself (~1 min)

(from the repository root; rewrites RESULTS.md but keeps its KEPT_SECTIONS, e.g. "A class at
once" from benchmarks/bench_class.py, as they are).

The paper comparison (benchmarks/paper_comparison.py): MFG-VAE, MoG posterior, MoG prior; M = 10,
σ = 0.1, seeds 0-2 (9 models), default TrainConfig otherwise. (a) benchmarks/reference_trainer.py
trains them one at a time for a fixed number of steps at constant lr; (b)
vae_core.training.train_many trains them as three batched ensembles with its cosine schedule and
early stopping.

Every measurement runs in its own fresh Python process (benchmarks/bench_train_workers.py), so
each trainer's peak RSS is its own and neither inherits the other's warm caches. Reference and
project repetitions alternate, so both see the same background load on a shared machine. The
report (benchmarks/bench_train_report.py) is built from the measurements alone.

Quality is defined the same way for both: the exact mean test log-likelihood log p_θ(y) of each
trained model (quadrature, `exact.log_marginal`) on the same 1000 test points. A model counts as
converged when it is within CONVERGED_NATS of the ground truth's own mean test log p(y); the
project must match the reference within QUALITY_NATS (mean per model type).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks.bench_train_report import Measurements, build_report, with_kept_sections
from benchmarks.common import Stopwatch, fmt_times, load_average
from benchmarks.paper_comparison import DEFAULT_THREADS_TIMEOUT, SLOW_REFERENCE_SECONDS
from benchmarks.reference_trainer import DEFAULT_REFERENCE_STEPS
from vae_core import ground_truth
from vae_core.config import TrainConfig
from vae_core.data import training_data
from vae_core.paper import PAPER_NOISE_STD

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def run_worker(kind: str, threads: int, steps: int, timeout: float = 900.0) -> dict:
    """One measurement of bench_train_workers in a fresh process (threads 0: torch's default)."""
    # As a module from the repository root, so the worker imports the same code without sys.path.
    command = [sys.executable, "-m", "benchmarks.bench_train_workers", kind]
    command += ["--ref-steps", str(steps), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----- the machine ---------------------------------------------------------------------------------


def machine_info() -> dict:
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": nproc(),
        "cpu": cpu_name(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "commit": commit(),
    }


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return str(os.cpu_count())


def commit() -> str:
    """The repository's commit, marked when vae_core (the code under test) has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "vae_core"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"
    return head + (" (vae_core has uncommitted changes)" if dirty else "")


# ----- the measurement plan -----------------------------------------------------------------------


def measure_repetitions(threads: int, ref_steps: int, reps: int) -> tuple[list[dict], list[dict]]:
    """Reference and project runs, alternating; one reference run only if the first is slow."""
    refs, projs = [], []
    ref_reps = reps
    for rep in range(reps):
        if rep < ref_reps:
            refs.append(run_worker("reference", threads, ref_steps))
            print(f"reference rep {rep + 1}: {refs[-1]['wall_seconds']:.2f} s", flush=True)
            if rep == 0 and refs[0]["wall_seconds"] > SLOW_REFERENCE_SECONDS:
                ref_reps = 1
        projs.append(run_worker("project", threads, ref_steps))
        print(f"project rep {rep + 1}: {projs[-1]['wall_seconds']:.2f} s", flush=True)
    return refs, projs


def measure_default_threads(ref_steps: int, default_threads: int) -> dict:
    """One project run at torch's default thread count (inf: stopped after DEFAULT_THREADS_TIMEOUT)."""
    run = {"default_threads": default_threads}
    try:
        seconds = run_worker("project", 0, ref_steps, timeout=DEFAULT_THREADS_TIMEOUT)["wall_seconds"]
        print(f"project at default threads: {seconds:.2f} s", flush=True)
    except subprocess.TimeoutExpired:
        seconds = float("inf")
        print(f"project at default threads: stopped after {DEFAULT_THREADS_TIMEOUT} s")
    return run | {"wall_seconds": seconds}


def quick_sweep(refs: list[dict], ref_steps: int) -> dict:
    """Without the sweep, its table shows the reference's final values."""
    curves = [{"label": m["label"], "values": [m["test_log_likelihood"]]} for m in refs[0]["models"]]
    return {"checkpoints": [ref_steps], "curves": curves}


def truth_test_log_likelihood() -> float:
    """The ground truth's mean log p(y) on the test points both trainers are scored on."""
    return ground_truth.log_marginal(training_data(TrainConfig())[1], PAPER_NOISE_STD).mean().item()


def measure(args: argparse.Namespace) -> Measurements:
    with Stopwatch() as total:
        info = machine_info()
        load_before = load_average(" ")
        reps = 1 if args.quick else args.reps
        print(f"{info['date']}  {info['cpu']}  nproc {info['nproc']}  load {load_before}", flush=True)
        sweep = {"checkpoints": [], "curves": []}
        if not args.quick:
            print("sweep: the reference's test log-likelihood every 250 steps ...", flush=True)
            sweep = run_worker("sweep", args.threads, args.ref_steps)
        refs, projs = measure_repetitions(args.threads, args.ref_steps, reps)
        single = run_worker("single", args.threads, args.ref_steps)
        print(f"single default model: {fmt_times(single['seconds'])} s", flush=True)
        profile = run_worker("profile", args.threads, args.ref_steps)
        print(f"profiled run: {profile['wall_seconds']:.2f} s", flush=True)
        default_threads = projs[0].get("default_threads")
        default_threads_run = {"default_threads": default_threads}
        if not args.quick and default_threads != args.threads:
            default_threads_run = measure_default_threads(args.ref_steps, default_threads)
        truth = truth_test_log_likelihood()
        if args.quick:
            sweep = quick_sweep(refs, args.ref_steps)
        load_after = load_average(" ")
    return Measurements(
        machine=info,
        threads=args.threads,
        ref_steps=args.ref_steps,
        refs=refs,
        projs=projs,
        single=single,
        profile=profile,
        sweep=sweep,
        default_threads_run=default_threads_run,
        truth=truth,
        load_before=load_before,
        load_after=load_after,
        total_seconds=total.wall,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both trainers (default 1: as fast as 2 for these "
        "tiny nets and robust on a shared machine)",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each trainer")
    parser.add_argument("--ref-steps", type=int, default=DEFAULT_REFERENCE_STEPS)
    parser.add_argument("--quick", action="store_true", help="1 repetition, no sweep: smoke test")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = build_report(measure(args))
    print()
    print(report)
    args.output.write_text(with_kept_sections(report, args.output))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
