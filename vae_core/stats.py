"""Estimates over seeds with confidence intervals, decisions against a threshold, and the
formatting of numbers as the app and the claims print them.

No pandas and no statistics package: vae_core.convergence and vae_core.claims both use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# The outcomes of deciding a quantity against a threshold (see `above`).
HOLDS, FAILS = "holds", "does not hold"
UNDECIDED = "undecided: within noise"  # the one wording for a result the seeds cannot settle
UNKNOWN = "cannot tell"  # no usable data at all (e.g. every seed diverged)
CONFIDENCE = 0.95
# The smallest difference in a likelihood-type number (KL, test log-likelihood, inference gap;
# nats per y) that matters: 0.002 nats, a total of 2 nats over 1000 test y, the usual threshold
# of a noticeable likelihood ratio. The claims count differences from it; the convergence
# outcomes warn of a run still improving only by more than it.
LIKELIHOOD_TIE = 0.002


@dataclass(frozen=True)
class Estimate:
    """Mean over seeds with a CONFIDENCE interval (Student's t); no interval from one seed."""

    mean: float
    low: float
    high: float
    n: int

    def text(self, scale: float = 1.0, unit: str = "") -> str:
        if self.n == 0:
            return "n/a"
        if self.n == 1:
            return f"{fmt(scale * self.mean)}{unit} (1 seed, no interval)"
        return f"{fmt_pm(scale * self.mean, scale * (self.high - self.low) / 2)}{unit}"


def estimate(values) -> Estimate:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(values.mean())
    if n == 1:
        return Estimate(mean, -math.inf, math.inf, 1)
    half = t_quantile(n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def t_quantile(dof: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student-t quantile: exact for 1 and 2 degrees of freedom, the Cornish–Fisher
    expansion beyond (relative error < 2e-3 from 3 on), so no statistics package is needed."""
    if dof == 1:
        return math.tan(math.pi * confidence / 2)
    if dof == 2:
        p = 0.5 + confidence / 2
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4


def above(est: Estimate, threshold: float, margin: float = 0.0) -> str:
    """Claimed: the quantity exceeds `threshold` (by at least `margin` for a difference)."""
    if est.n == 0:
        return UNKNOWN
    if est.low > threshold and est.mean >= threshold + margin:
        return HOLDS
    if est.high < threshold and est.mean <= threshold - margin:
        return FAILS
    return UNDECIDED


def below(est: Estimate, threshold: float) -> str:
    """Claimed: the quantity is below `threshold`."""
    flipped = Estimate(-est.mean, -est.high, -est.low, est.n)
    return above(flipped, -threshold)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single seed)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def fmt(value: float) -> str:
    """Three significant figures (scientific notation only for very small or large values)."""
    if not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def fmt_pm(mean: float, spread: float) -> str:
    """'mean ± spread', both rounded to the spread's first significant digit (second if it is
    1 or 2): the digits beyond are noise."""
    if not math.isfinite(mean):
        return "n/a"
    if not spread > 0 or abs(mean) >= 1e5 or (mean != 0 and abs(mean) < 1e-3 and spread < 1e-4):
        return f"{fmt(mean)} ± {fmt(spread)}"
    exponent = math.floor(math.log10(spread))
    leading = int(spread / 10.0**exponent)
    decimals = min(max(-exponent + (leading <= 2), 0), 6)
    mean_text = f"{mean:.{decimals}f}"
    if float(mean_text) == 0:
        mean_text = mean_text.lstrip("-")  # no "-0.000"
    return f"{mean_text} ± {spread:.{decimals}f}"


def fmt_mean_std(values) -> str:
    """'mean ± std', both rounded to the std's first significant digit (second if it is 1 or 2)."""
    return fmt_pm(*mean_std(values))
