"""Benchmark: the batched training step against this machine's roofline (issue 18).

    python -m benchmarks.bench_step             # ~3 min; rewrites its section of RESULTS.md
    python -m benchmarks.bench_step --quick     # fewer repetitions, E ≤ 20; prints only
    python -m benchmarks.bench_step --note "two pytest runs beside it"   # what else was running

In one run, one torch thread (as the trainer runs): (1) this machine's rates at the step's own
shapes: torch.bmm GFLOP/s of a hidden layer's three products (forward, grad of the input, grad
of the weight), torch.tanh elements/s, elementwise bandwidth (a multiply, 12 bytes an element);
(2) the FLOPs of one training step per model type, counted from the layer widths; (3) the
project's `Ensemble.step` for E = 1, 20, 64 members and the plain one-model loop of
benchmarks/reference_trainer.py; (4) a torch.profiler profile by op of the heavy model's step.

The roofline of a model-step is a lower bound on its time: its matmul FLOPs at the measured bmm
rate, plus its tanh evaluations at the measured tanh rate, plus one elementwise pass over the
same activations (tanh's backward, (1 − t²)·g) at the measured bandwidth. Everything else (the
log-densities, the ELBO, Adam over the parameters, Python and dispatch) is what the step costs
above it. Times are medians over repetitions, as CPU time (`time.process_time`) and wall time:
on a shared machine the CPU time is the fairer of the two (it does not count waiting for a core).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.bench_train import machine_info
from benchmarks.common import Stopwatch, load_average, md_row, md_rule
from benchmarks.reference_trainer import ReferenceVAE
from vae_core.config import TrainConfig
from vae_core.data import training_data
from vae_core.paper import PAPER_N_COMPONENTS, PAPER_NOISE_STD
from vae_core.training.ensemble import EARLY_SNAPSHOT_STEPS, Ensemble
from vae_core.training.member import Member

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION_HEADING = "## The training step against the hardware"  # a KEPT_SECTIONS of bench_train

MODEL_TYPES = (
    ("MFG-VAE", "gaussian", "gaussian"),
    ("MoG-VAE (MoG posterior)", "gaussian", "mog"),
    ("MFG-VAE + MoG prior", "mog", "gaussian"),
    ("MoG prior + MoG posterior", "mog", "mog"),
)
HEAVY = MODEL_TYPES[-1][0]
ENSEMBLE_SIZES = (1, 20, 64)
MULTIPLY_BYTES_PER_ELEMENT = 12  # c = a·b in float32: two reads and one write
# Past the early decoder snapshots (vae_core.training.ensemble), so timed steps are plain steps.
WARMUP_STEPS = max(EARLY_SNAPSHOT_STEPS) + 1
NO_EVALUATION = 10**9  # eval_every: no exact evaluation inside the timed steps


def heavy_config(prior: str, posterior: str, seed: int = 0) -> TrainConfig:
    """The paper's setting (M = 10, σ = 0.1), every other field the default; never stopping or
    evaluating while timed."""
    return TrainConfig(
        prior=prior,
        posterior=posterior,
        n_components=PAPER_N_COMPONENTS,
        noise_std=PAPER_NOISE_STD,
        steps=50000,
        early_stop=False,
        eval_every=NO_EVALUATION,
        seed=seed,
    )


# ----- counting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepShapes:
    """The sizes one training step of one member works on."""

    batch: int  # y per step
    z_per_y: int  # K: samples per y (samples_per_component × posterior components)
    hidden: int
    encoder_out: int  # 2 × posterior components (locations, raw scales)

    @classmethod
    def of(cls, config: TrainConfig) -> StepShapes:
        components = config.n_components if config.posterior == "mog" else 1
        return cls(
            config.batch_size, config.samples_per_component * components, config.hidden, 2 * components
        )

    @property
    def decoder_rows(self) -> int:
        return self.batch * self.z_per_y


def mlp_matmul_flops(rows: int, n_in: int, hidden: int, n_out: int) -> int:
    """Multiply-adds (2 FLOPs each) of n_in → hidden → hidden → n_out on `rows` inputs, forward."""
    return 2 * rows * (n_in * hidden + hidden * hidden + hidden * n_out)


def forward_matmul_flops(shapes: StepShapes) -> int:
    """The encoder on the batch's y and the decoder on its B·K z (vae_core.model.VAE.elbo)."""
    encoder = mlp_matmul_flops(shapes.batch, 1, shapes.hidden, shapes.encoder_out)
    decoder = mlp_matmul_flops(shapes.decoder_rows, 1, shapes.hidden, 1)
    return encoder + decoder


def step_flops(shapes: StepShapes) -> int:
    """Forward + backward: the backward of a layer is two products the size of its forward one
    (the gradients of its input and of its weight), so 3× the forward matmul FLOPs. (Exact for
    the hidden and output layers; the encoder's first layer needs no input gradient.)"""
    return 3 * forward_matmul_flops(shapes)


def tanh_elements(shapes: StepShapes) -> int:
    """Activations through tanh per step: two hidden layers of each MLP."""
    return 2 * shapes.hidden * (shapes.batch + shapes.decoder_rows)


# ----- this machine's rates at the step's shapes -----------------------------------------------


@dataclass
class Timing:
    """Median seconds per call, wall and CPU."""

    wall: float
    cpu: float


def time_calls(call: Callable[[], object], calls: int, reps: int) -> Timing:
    """Median over `reps` of the per-call time of `calls` calls (after one untimed call)."""
    call()
    walls, cpus = [], []
    for _ in range(reps):
        with Stopwatch() as watch:
            for _ in range(calls):
                call()
        walls.append(watch.wall / calls)
        cpus.append(watch.cpu / calls)
    return Timing(statistics.median(walls), statistics.median(cpus))


@dataclass
class Rates:
    """Rates on this machine for E members at a layer of `rows` rows (by CPU time)."""

    bmm_flops: float  # FLOP/s
    tanh: float  # elements/s
    bandwidth: float  # bytes/s


def measure_rates(members: int, rows: int, hidden: int, reps: int) -> Rates:
    x = torch.randn(members, rows, hidden)
    weight = torch.randn(members, hidden, hidden)
    grad = torch.randn(members, rows, hidden)
    out_rows, out_weight = torch.empty(members, rows, hidden), torch.empty(members, hidden, hidden)
    transposed = weight.transpose(1, 2)

    def hidden_layer_products() -> None:  # forward, d input, d weight: as in autograd's backward
        torch.bmm(x, weight, out=out_rows)
        torch.bmm(grad, transposed, out=out_rows)
        torch.bmm(x.transpose(1, 2), grad, out=out_weight)

    calls = max(3, 2000 // members)
    products = time_calls(hidden_layer_products, calls, reps)
    tanh = time_calls(lambda: torch.tanh(x, out=out_rows), calls, reps)
    multiply = time_calls(lambda: torch.mul(x, grad, out=out_rows), calls, reps)
    elements = members * rows * hidden
    return Rates(
        bmm_flops=3 * 2 * members * rows * hidden * hidden / products.cpu,
        tanh=elements / tanh.cpu,
        bandwidth=MULTIPLY_BYTES_PER_ELEMENT * elements / multiply.cpu,
    )


def roofline_seconds(shapes: StepShapes, rates: Rates) -> float:
    """The lower bound of one model-step: matmuls, tanh, and tanh's backward as one pass."""
    activations = tanh_elements(shapes)
    return (
        step_flops(shapes) / rates.bmm_flops
        + activations / rates.tanh
        + MULTIPLY_BYTES_PER_ELEMENT * activations / rates.bandwidth
    )


# ----- the project's step and the plain loop ---------------------------------------------------


def project_ensemble(prior: str, posterior: str, members: int) -> Ensemble:
    """E members of one model type (seeds 0..E−1), stepped past the warm-up."""
    ensemble = Ensemble(heavy_config(prior, posterior).ensemble_key())
    for seed in range(members):
        ensemble.add(Member(heavy_config(prior, posterior, seed)))
    for _ in range(WARMUP_STEPS):
        ensemble.step()
    return ensemble


def time_project_step(prior: str, posterior: str, members: int, steps: int, reps: int) -> Timing:
    """Median seconds per ensemble step of `Ensemble.step` (bookkeeping and divergence checks
    included; no evaluations)."""
    ensemble = project_ensemble(prior, posterior, members)
    return time_calls(ensemble.step, steps, reps)


def time_plain_loop(prior: str, posterior: str, steps: int, reps: int) -> Timing:
    """Median seconds per step of the loop of benchmarks/reference_trainer.py (one model,
    torch.distributions, torch.optim.Adam): minibatch, noise, forward, backward, Adam. The data
    and the model are made before the clock starts, as for the project's step."""
    config = heavy_config(prior, posterior)
    train_y = training_data(config)[0].float()
    model = ReferenceVAE(config)
    model.initialise(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    samples = config.samples_per_component * model.posterior_components

    def plain_step() -> None:
        batch = train_y[torch.randint(len(train_y), (config.batch_size,), generator=generator)]
        noise = torch.randn(len(batch), samples, generator=generator)
        loss = -model.elbo(batch, noise).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return time_calls(plain_step, steps, reps)


def profile_heavy_step(members: int, steps: int) -> tuple[list[tuple[str, int, float]], float]:
    """(op, calls, self CPU seconds) by op, the largest first, and the total, over `steps` steps."""
    _, prior, posterior = MODEL_TYPES[-1]
    ensemble = project_ensemble(prior, posterior, members)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            ensemble.step()
    rows = [(e.key, e.count, e.self_cpu_time_total / 1e6) for e in profiler.key_averages()]
    rows.sort(key=lambda row: -row[2])
    return rows, sum(row[2] for row in rows)


# ----- the run ---------------------------------------------------------------------------------


@dataclass
class Measured:
    info: dict
    note: str
    load_before: str
    load_after: str
    total: Timing
    sizes: tuple[int, ...]
    rates: dict[tuple[int, int], Rates]  # (E, rows) → rates
    project: dict[tuple[str, int], Timing]  # (model, E) → per ensemble step
    plain: dict[str, Timing]  # model → per step
    profile: list[tuple[str, int, float]]
    profile_total: float
    profile_members: int
    profile_steps: int


def measure(args: argparse.Namespace) -> Measured:
    torch.set_num_threads(1)
    sizes = tuple(e for e in ENSEMBLE_SIZES if not args.quick or e <= 20)
    info, load_before = machine_info(), load_average()
    rates, project, plain = {}, {}, {}
    with Stopwatch() as total:
        for name, prior, posterior in MODEL_TYPES:
            shapes = StepShapes.of(heavy_config(prior, posterior))
            for members in sizes:
                key = (members, shapes.decoder_rows)
                if key not in rates:
                    rates[key] = measure_rates(members, shapes.decoder_rows, shapes.hidden, args.reps)
                steps = max(args.min_steps, args.model_steps // members)
                project[(name, members)] = time_project_step(prior, posterior, members, steps, args.reps)
                print(
                    f"{name}, E = {members}: {1e3 * project[(name, members)].cpu / members:.3f} ms",
                    flush=True,
                )
            plain[name] = time_plain_loop(prior, posterior, args.model_steps, args.reps)
        profile_members = 20
        profile, profile_total = profile_heavy_step(profile_members, args.profile_steps)
    return Measured(
        info,
        args.note,
        load_before,
        load_average(),
        Timing(total.wall, total.cpu),
        sizes,
        rates,
        project,
        plain,
        profile,
        profile_total,
        profile_members,
        args.profile_steps,
    )


# ----- the report ------------------------------------------------------------------------------


def report(m: Measured, args: argparse.Namespace) -> str:
    info = m.info
    lines = [
        f"{SECTION_HEADING} (benchmarks/bench_step.py; issue 18)",
        "",
        "Written by `python -m benchmarks.bench_step`. One torch thread; the paper's M = 10, σ = 0.1,",
        "hidden 50, minibatches of 100 y, one z-sample per posterior component; times are medians over",
        f"{args.reps} repetitions, per model-step (an ensemble step of E members counts E).",
        "",
        f"- date {info['date']}; CPU {info['cpu']}; `nproc` {info['nproc']}; Python {info['python']}, "
        f"torch {info['torch']}; repository at {info['commit']}",
        f"- load average (1, 5, 15 min) before: {m.load_before}; after: {m.load_after}; "
        f"the run took {m.total.wall:.0f} s wall, {m.total.cpu:.0f} s CPU",
        f"- beside it: {m.note or 'not recorded (--note)'}",
        "",
        "### This machine's rates at the step's shapes (one thread, by CPU time)",
        "",
        md_row("E", "rows", "bmm GFLOP/s (fwd + both grads)", "tanh G elements/s", "multiply GB/s"),
        md_rule("---:", "---:", "---:", "---:", "---:"),
    ]
    for (members, rows), r in sorted(m.rates.items()):
        lines.append(
            md_row(
                members, rows, f"{r.bmm_flops / 1e9:.1f}", f"{r.tanh / 1e9:.3f}", f"{r.bandwidth / 1e9:.1f}"
            )
        )
    lines += [
        "",
        "### One model-step: FLOPs, roofline, the project's step and the plain loop",
        "",
        "MFLOP: matmul FLOPs of forward + backward (3× forward, from the layer widths). Roofline: those",
        "at the bmm rate + the tanh evaluations at the tanh rate + one elementwise pass over the same",
        "activations at the multiply's bandwidth, at the row count of the decoder's layers. Fraction:",
        "roofline / the project's CPU time.",
        "",
        md_row(
            "model",
            "MFLOP",
            "tanh k elements",
            "E",
            "roofline ms",
            "project CPU ms",
            "project wall ms",
            "fraction of roofline",
            "GFLOP/s achieved",
        ),
        md_rule("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"),
    ]
    for name, prior, posterior in MODEL_TYPES:
        shapes = StepShapes.of(heavy_config(prior, posterior))
        flops = step_flops(shapes)
        for members in m.sizes:
            timing = m.project[(name, members)]
            cpu, wall = timing.cpu / members, timing.wall / members
            floor = roofline_seconds(shapes, m.rates[(members, shapes.decoder_rows)])
            lines.append(
                md_row(
                    name,
                    f"{flops / 1e6:.2f}",
                    f"{tanh_elements(shapes) / 1e3:.0f}",
                    members,
                    f"{1e3 * floor:.3f}",
                    f"{1e3 * cpu:.3f}",
                    f"{1e3 * wall:.3f}",
                    f"{floor / cpu:.0%}",
                    f"{flops / cpu / 1e9:.1f}",
                )
            )
        plain = m.plain[name]
        lines.append(
            md_row(
                f"{name}, plain loop",
                f"{flops / 1e6:.2f}",
                "",
                1,
                "",
                f"{1e3 * plain.cpu:.3f}",
                f"{1e3 * plain.wall:.3f}",
                "",
                f"{flops / plain.cpu / 1e9:.1f}",
            )
        )
    lines += profile_lines(m)
    return "\n".join(lines) + "\n"


def profile_lines(m: Measured, top: int = 15) -> list[str]:
    lines = [
        "",
        f"### Where the heavy model's step goes (torch.profiler, E = {m.profile_members}, "
        f"{m.profile_steps} steps)",
        "",
        "Self CPU time by op, the largest first (the profiler adds its own cost to every op, so the",
        "total is above the unprofiled step; the shares are what to read).",
        "",
        md_row("op", "calls per step", "self CPU ms per step", "share"),
        md_rule("---", "---:", "---:", "---:"),
    ]
    for op, calls, seconds in m.profile[:top]:
        lines.append(
            md_row(
                f"`{op}`",
                f"{calls / m.profile_steps:g}",
                f"{1e3 * seconds / m.profile_steps:.3f}",
                f"{seconds / m.profile_total:.1%}",
            )
        )
    rest = sum(row[2] for row in m.profile[top:])
    lines.append(
        md_row("everything else", "", f"{1e3 * rest / m.profile_steps:.3f}", f"{rest / m.profile_total:.1%}")
    )
    lines.append(md_row("total", "", f"{1e3 * m.profile_total / m.profile_steps:.3f}", "100%"))
    return lines


def with_section(old: str, section: str) -> str:
    """`old` with its SECTION_HEADING section (heading to the next "## ") replaced, or appended."""
    lines = old.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(SECTION_HEADING)]
    if not starts:
        return old.rstrip() + "\n\n" + section
    start = starts[0]
    end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
    before, after = "\n".join(lines[:start]), "\n".join(lines[end:])
    return before.rstrip() + "\n\n" + section + ("\n" + after.rstrip() + "\n" if after else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="E ≤ 20, 3 repetitions; print only")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement (default 5)")
    parser.add_argument("--model-steps", type=int, default=200, help="model-steps per repetition")
    parser.add_argument("--min-steps", type=int, default=5, help="ensemble steps per repetition, at least")
    parser.add_argument("--profile-steps", type=int, default=20)
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.reps is None:
        args.reps = 3 if args.quick else 5
    text = report(measure(args), args)
    print(text)
    if not args.quick:
        old = args.output.read_text() if args.output.exists() else ""
        args.output.write_text(with_section(old, text))


if __name__ == "__main__":
    main()
