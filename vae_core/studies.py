"""Reproducible checks of what the app teaches (docs/claims.md): run by `python -m vae_core ...`.

- `divergence_counts`: claim C2's "training can diverge", counted over seeds at the paper's
  settings with plain (unbounded) scales.
- `verdict_table`: the claims' verdicts on two disjoint sets of seeds, side by side (do they
  stay the same when the presets are retrained?).
- `stopping_cost`: what early stopping loses against training on to the full step budget.

Every study trains through the result cache, so a re-run only trains what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vae_core import claims, convergence
from vae_core.cache import cached_train_many
from vae_core.paper import PAPER_N_COMPONENTS, comparison_configs


def train_comparison(noise_std: float, seeds, cache_dir: Path, **overrides) -> dict[str, list]:
    """{model name: results per seed} of the comparison configs, as the Compare page holds them."""
    configs = comparison_configs(noise_std, PAPER_N_COMPONENTS, seeds=tuple(seeds), **overrides)
    flat = [c for cs in configs.values() for c in cs]
    results = iter(cached_train_many(flat, directory=cache_dir))
    return {name: [next(results) for _ in cs] for name, cs in configs.items()}


# --- C2: divergence with plain scales ---------------------------------------------------------


def divergence_counts(noise_std: float, seeds, cache_dir: Path) -> pd.DataFrame:
    """Per model: runs, diverged runs (seed@step) and the 95 % upper bound on the rate when none did."""
    by_model = train_comparison(noise_std, seeds, cache_dir, bounded_scales=False, include_fourth=False)
    rows = []
    for name, results in by_model.items():
        diverged = [r for r in results if r.diverged]
        rows.append(
            {
                "σ": noise_std,
                "model": name,
                "runs": len(results),
                "diverged": len(diverged),
                "95 % upper bound on the rate": claims.divergence_bound(len(diverged), len(results)),
                "where": ", ".join(f"seed {r.config.seed} @ step {r.diverged_step}" for r in diverged),
            }
        )
    return pd.DataFrame(rows)


# --- verdict stability ------------------------------------------------------------------------


def verdicts(results_by_model: dict[str, list]) -> dict[str, claims.ClaimVerdict]:
    return {v.id: v for v in claims.check_claims(results_by_model)}


def verdict_table(noise_std: float, seeds_a, seeds_b, cache_dir: Path) -> pd.DataFrame:
    """One row per claim: the verdict and its parts on seeds_a, then on seeds_b."""
    a = verdicts(train_comparison(noise_std, seeds_a, cache_dir))
    b = verdicts(train_comparison(noise_std, seeds_b, cache_dir))
    rows = []
    for claim_id in a:
        rows.append(
            {
                "σ": noise_std,
                "claim": claim_id,
                "verdict A": a[claim_id].verdict,
                "parts A": " ".join(claims.SYMBOL.get(s, "·") for s in a[claim_id].parts),
                "verdict B": b[claim_id].verdict,
                "parts B": " ".join(claims.SYMBOL.get(s, "·") for s in b[claim_id].parts),
                "flip": flip_kind(a[claim_id].verdict, b[claim_id].verdict),
                "parts ✓↔✗": contradicting_parts(a[claim_id].parts, b[claim_id].parts),
            }
        )
    return pd.DataFrame(rows)


def contradicting_parts(first: list[str], second: list[str]) -> int:
    """Parts that hold on one seed set and do not hold on the other (the same part, in order)."""
    return sum({a, b} == {claims.HOLDS, claims.FAILS} for a, b in zip(first, second, strict=True))


def flip_kind(first: str, second: str) -> str:
    """How a verdict changed between two seed sets.

    '' when equal; 'undecided ↔ decided' when one side is undecided (honest: those seeds
    could not settle it); 'partly ↔ decided' when one side partly holds (a part moved between
    decided and within noise, the rest agrees); 'FLIP' for holds ↔ does not hold, a
    contradiction the design must not allow."""
    if first == second:
        return ""
    if claims.UNDECIDED in (first, second) or claims.UNKNOWN in (first, second):
        return "undecided ↔ decided"
    if claims.PARTLY in (first, second):
        return "partly ↔ decided"
    return "FLIP"


def evidence_text(noise_std: float, seeds, cache_dir: Path) -> str:
    """Every claim's verdict with its evidence sentences, as the Compare page shows them."""
    lines = [f"σ = {noise_std}, seeds {list(seeds)}"]
    for verdict in claims.check_claims(train_comparison(noise_std, seeds, cache_dir)):
        lines.append(f"{verdict.id}: {verdict.verdict}")
        lines += [f"    {sentence}" for sentence in verdict.evidence]
    return "\n".join(lines)


# --- the stopping rule's cost -----------------------------------------------------------------


def stopping_cost(noise_std: float, seeds, cache_dir: Path) -> pd.DataFrame:
    """Per run: steps and exact test log-likelihood / validation ELBO with the stopping rule and
    without it (the full budget), and what stopping lost (positive: the full run is better)."""
    stopped = train_comparison(noise_std, seeds, cache_dir)
    full = train_comparison(noise_std, seeds, cache_dir, early_stop=False)
    rows = []
    for name in stopped:
        for early, late in zip(stopped[name], full[name], strict=True):
            if early.diverged or late.diverged:
                continue
            rows.append(
                {
                    "σ": noise_std,
                    "model": name,
                    "seed": early.config.seed,
                    "steps (rule)": early.steps_run,
                    "steps (full)": late.steps_run,
                    "test log-lik. lost": late.metrics["test_log_likelihood"]
                    - early.metrics["test_log_likelihood"],
                    "validation ELBO lost": final_validation_elbo(late) - final_validation_elbo(early),
                }
            )
    return pd.DataFrame(rows)


def final_validation_elbo(result) -> float:
    values = result.history["validation_elbo"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values[-1]) if values.size else float("nan")


def summarise_cost(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, median and max loss per σ (nats per y), and the steps the rule saved."""
    return (
        table.groupby("σ")
        .agg(
            runs=("seed", "size"),
            stopped_early=("steps (rule)", lambda s: int((s < table.loc[s.index, "steps (full)"]).sum())),
            mean_steps_rule=("steps (rule)", "mean"),
            steps_full=("steps (full)", "max"),
            test_ll_lost_mean=("test log-lik. lost", "mean"),
            test_ll_lost_median=("test log-lik. lost", "median"),
            test_ll_lost_max=("test log-lik. lost", "max"),
            val_elbo_lost_mean=("validation ELBO lost", "mean"),
            val_elbo_lost_max=("validation ELBO lost", "max"),
        )
        .reset_index()
    )


# Rules measured against the full budget: (PATIENCE, TOLERANCE, MIN_SCHEDULE_FRACTION). The rule
# in use (vae_core.convergence) is one of them; 0.7 was the minimum fraction until cache format v3.
RULE_IN_USE = (convergence.PATIENCE, convergence.TOLERANCE, convergence.MIN_SCHEDULE_FRACTION)
RULE_VARIANTS = (
    (4, 2e-4, 0.7),
    (4, 2e-4, 0.8),
    (4, 2e-4, 0.9),
    (6, 2e-4, 0.7),
    (8, 2e-4, 0.7),
)


def rule_variants(noise_std: float, seeds, cache_dir: Path, variants=RULE_VARIANTS) -> pd.DataFrame:
    """Each stopping rule replayed on the validation histories of full-budget runs: where it
    would have stopped and what it would have lost by then against the end of the budget
    (the runs are the same up to that step: stopping changes nothing before it)."""
    full = train_comparison(noise_std, seeds, cache_dir, early_stop=False)
    histories = [
        (r.config.steps, r.history.dropna(subset=["validation_elbo"]))
        for rs in full.values()
        for r in rs
        if not r.diverged
    ]
    rows = []
    for patience, tolerance, min_fraction in variants:
        steps, elbo_lost, ll_lost = [], [], []
        rule = (patience, tolerance, min_fraction)
        for budget, history in histories:
            elbos = history["validation_elbo"].to_list()
            stop = next(
                (
                    i
                    for i, step in enumerate(history["step"])
                    if convergence.should_stop(elbos[: i + 1], step, budget, *rule)
                ),
                len(elbos) - 1,
            )
            steps.append(int(history["step"].iloc[stop]))
            elbo_lost.append(elbos[-1] - elbos[stop])
            log_liks = history["validation_log_likelihood"].to_numpy()
            ll_lost.append(log_liks[-1] - log_liks[stop])
        rows.append(
            {
                "σ": noise_std,
                "patience": patience,
                "tolerance": tolerance,
                "min fraction": min_fraction,
                "in use": rule == RULE_IN_USE,
                "runs": len(histories),
                "mean steps": float(np.mean(steps)),
                "budget": histories[0][0] if histories else 0,
                "val. ELBO lost mean": float(np.mean(elbo_lost)),
                "val. ELBO lost max": float(np.max(elbo_lost)),
                "runs losing > 0.002": int(np.sum(np.asarray(elbo_lost) > 0.002)),
                "val. log-lik. lost mean": float(np.mean(ll_lost)),
                "val. log-lik. lost max": float(np.max(ll_lost)),
            }
        )
    return pd.DataFrame(rows)
