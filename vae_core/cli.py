"""Command line: `python -m vae_core train ...`, `presets`, and the studies behind docs/claims.md
(`divergence`, `stability`, `stopping`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vae_core.cache import CACHE_ENV, cached_train, cached_train_many, default_cache_dir, presets_dir
from vae_core.config import LIMITS, POSTERIOR_KINDS, PRIOR_KINDS, TrainConfig
from vae_core.data import training_data
from vae_core.export import ExportError, write_pngs
from vae_core.metrics import metrics_table
from vae_core.paper import preset_configs
from vae_core.plots import truth
from vae_core.plots.run import model_figures

DEFAULTS = TrainConfig()


def within(name: str) -> str:
    """' (low–high)': the range TrainConfig accepts for field `name`, for the help text."""
    low, high = LIMITS[name]
    return f" ({low:g}–{high:g})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vae_core",
        description="Train VAEs with Gaussian or mixture-of-Gaussians priors and posteriors on the "
        "1-D toy problem of Tello Ayala & Benac (2023), compare them with the exact truth, "
        "and write every figure as PNG.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "train",
        help="train one model (or load it from the cache)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument(
        "--prior",
        choices=PRIOR_KINDS,
        default=DEFAULTS.prior,
        help="p(z): N(0,1), or a learned equal-weight mixture of M Gaussians",
    )
    run.add_argument(
        "--posterior",
        choices=POSTERIOR_KINDS,
        default=DEFAULTS.posterior,
        help="q(z|y): one Gaussian, or an equal-weight mixture of M Gaussians",
    )
    run.add_argument(
        "--components",
        type=int,
        default=DEFAULTS.n_components,
        metavar="M",
        help="M, the number of mixture components of the prior and/or posterior; "
        "ignored when neither is a mixture" + within("n_components"),
    )
    run.add_argument(
        "--noise-std",
        type=float,
        default=DEFAULTS.noise_std,
        metavar="σ",
        help="σ of y | z ~ N(f(z), σ²), known to the model" + within("noise_std"),
    )
    run.add_argument(
        "--seed", type=int, default=DEFAULTS.seed, help="seed of the initialisation and Monte Carlo noise"
    )
    run.add_argument(
        "--data-seed", type=int, default=DEFAULTS.data_seed, help="seed of the training and test data"
    )
    run.add_argument(
        "--steps",
        type=int,
        default=DEFAULTS.steps,
        help="maximum optimisation steps (training may stop earlier once converged)" + within("steps"),
    )
    run.add_argument(
        "--lr", type=float, default=DEFAULTS.lr, help="Adam's initial learning rate" + within("lr")
    )
    run.add_argument(
        "--hidden",
        type=int,
        default=DEFAULTS.hidden,
        help="hidden width of the decoder and encoder MLPs" + within("hidden"),
    )
    run.add_argument(
        "--batch-size", type=int, default=DEFAULTS.batch_size, help="y per step" + within("batch_size")
    )
    run.add_argument(
        "--n-train", type=int, default=DEFAULTS.n_train, help="training set size" + within("n_train")
    )
    run.add_argument("--no-early-stop", action="store_true", help="always run all --steps steps")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the PNG figures and metrics.csv (none: print metrics only)",
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"result cache, shared with the app (default: ${CACHE_ENV}, else "
        f"$XDG_CACHE_HOME/vae-mog-lab, now {default_cache_dir()})",
    )
    run.add_argument("--no-cache", action="store_true", help="train even if a cached result exists")
    run.add_argument("--scale", type=float, default=2.0, help="PNG pixel scale")
    presets = commands.add_parser(
        "presets",
        help="train the paper comparison presets shipped in vae_core/pretrained",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    presets.add_argument(
        "--out", type=Path, default=None, help=f"folder to write them to (default {presets_dir()})"
    )
    _add_studies(commands)
    return parser


def _add_studies(commands) -> None:
    """The checks behind docs/claims.md; each trains through the cache (re-runs are cheap)."""
    helps = {
        "divergence": "claim C2: count diverging runs over seeds with plain (unbounded) scales",
        "stability": "the claims' verdicts on two disjoint seed sets (--seeds vs --other-seeds)",
        "stopping": "what early stopping loses against training on to the full step budget",
    }
    default_seeds = {"divergence": "0-9", "stability": "5-9", "stopping": "5-9"}
    for name, text in helps.items():
        study = commands.add_parser(name, help=text, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        study.add_argument(
            "--noise-std", type=float, nargs="+", default=[0.1, 0.03], metavar="σ", help="noise levels"
        )
        study.add_argument("--seeds", type=seed_range, default=default_seeds[name], help="e.g. 0-9 or 0,2,5")
        study.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help=f"result cache (default {default_cache_dir()}; the shipped presets are read too)",
        )
        if name == "stability":
            study.add_argument(
                "--other-seeds",
                type=seed_range,
                default="0-4",
                help="the seeds to compare with (the presets')",
            )
            study.add_argument("--evidence", action="store_true", help="also print every verdict's evidence")


def seed_range(text: str) -> tuple[int, ...]:
    """'0-9' → 0, …, 9; '0,2,5' → 0, 2, 5."""
    seeds = []
    for piece in text.split(","):
        low, _, high = piece.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return tuple(seeds)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "presets":
        return _build_presets(args.out if args.out is not None else presets_dir())
    if args.command in ("divergence", "stability", "stopping"):
        return _study(args)
    return _train(args)


def _train(args) -> int:
    try:
        config = TrainConfig(
            prior=args.prior,
            posterior=args.posterior,
            n_components=args.components,
            noise_std=args.noise_std,
            seed=args.seed,
            data_seed=args.data_seed,
            steps=args.steps,
            lr=args.lr,
            hidden=args.hidden,
            batch_size=args.batch_size,
            n_train=args.n_train,
            early_stop=not args.no_early_stop,
        )
    except ValueError as error:
        print(f"error: {error}")
        return 2
    started = time.perf_counter()
    if args.no_cache:
        from vae_core.training import train

        result, from_cache = train(config), False
    else:
        result, from_cache = cached_train(config, args.cache_dir)
    source = "loaded from cache" if from_cache else f"trained in {time.perf_counter() - started:.2f} s"
    print(f"{config.model_name}: {source}; {result.status} after {result.steps_run} steps")
    print(f"config: {config}")
    if result.diverged:
        print(f"DIVERGED: {result.diverged_reason}. Try a smaller --lr or larger --noise-std.")
        return 1
    table = metrics_table(result.metrics)
    print(table.to_string(index=False))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "metrics.csv", index=False)
        try:
            paths = write_pngs(result_figures(result), args.out, scale=args.scale)
        except ExportError as error:
            print(f"error: {error}")
            return 1
        print(f"wrote {len(paths)} PNG files and metrics.csv to {args.out}")
    return 0


def result_figures(result) -> dict:
    """Every figure of one trained model, by file name."""
    _, test_y = training_data(result.config)
    noise_std = result.config.noise_std
    return {
        "ground_truth_decoder": truth.true_decoder_figure(),
        "ground_truth_marginal": truth.true_marginal_figure(noise_std, test_y.numpy()),
        "ground_truth_posterior_heatmap": truth.true_posterior_heatmap(noise_std),
        "ground_truth_posterior_slices": truth.true_posterior_slices(noise_std),
        **model_figures(result),
    }


def _build_presets(directory: Path) -> int:
    configs = preset_configs()
    started = time.perf_counter()
    # Entries already in `directory` for the same config are kept: delete it to rebuild all.
    results = cached_train_many(configs, directory=directory, read_only_dirs=())
    failed = [r for r in results if r.diverged]
    print(
        f"{len(results)} presets in {directory} ({time.perf_counter() - started:.1f} s); "
        f"{len(failed)} diverged"
    )
    return 0


def _study(args) -> int:
    import pandas as pd

    from vae_core import studies

    cache = args.cache_dir if args.cache_dir is not None else default_cache_dir()
    started = time.perf_counter()
    tables = []
    for noise_std in args.noise_std:
        if args.command == "divergence":
            tables.append(studies.divergence_counts(noise_std, args.seeds, cache))
        elif args.command == "stability":
            tables.append(studies.verdict_table(noise_std, args.other_seeds, args.seeds, cache))
            if args.evidence:
                for seeds in (args.other_seeds, args.seeds):
                    print(studies.evidence_text(noise_std, seeds, cache), end="\n\n")
        else:
            tables.append(studies.stopping_cost(noise_std, args.seeds, cache))
    table = pd.concat(tables, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 80):
        print(table.to_string(index=False))
        if args.command == "stopping":
            print(studies.summarise_cost(table).to_string(index=False))
            variants = [studies.rule_variants(s, args.seeds, cache) for s in args.noise_std]
            print(pd.concat(variants, ignore_index=True).to_string(index=False))
    print(f"({time.perf_counter() - started:.0f} s; cache {cache})")
    return 0
