"""The guided tour of the lecture: the paper's story as data, one step per screen.

truth → MFG-VAE → a richer posterior → a richer prior → non-identifiability. Each step names
the settings it loads (a TrainConfig, so a step always lands on the same, usually pre-trained,
run), an optional run to pin beside it, the y to probe, and the figures to look at (names from
vae_core.plots.live.FIGURE_NAMES). The texts ask the student to look rather than assert a number: the
page computes and states what the figures show (e.g. whether q(z|y) uses several peaks).
"""

from __future__ import annotations

from dataclasses import dataclass

from vae_core.config import TrainConfig
from vae_core.convergence import step_budget

# The paper's setting (σ = 0.1, M = 10, seed 0). Each built from scratch: MFG-VAE's config
# stores M = 1 (it has no mixture), so a replace() of it would carry M = 1 into a mixture.
MFG = TrainConfig(prior="gaussian", posterior="gaussian")
MOG_POSTERIOR = TrainConfig(prior="gaussian", posterior="mog")
MOG_PRIOR = TrainConfig(prior="mog", posterior="gaussian")
# The pair of shipped MoG-VAE seeds whose decoders differ most beyond f's law and the latent's
# mirror (claims.arrangement_excess 0.063; tests/test_tour.py checks that no preset pair
# differs more). The MoG prior's seeds are no example: after u → 1 − u they agree to 0.002.
NON_IDENTIFIABLE_PAIR = (MOG_POSTERIOR.replace(seed=3), MOG_POSTERIOR)


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str  # two or three sentences, read aloud or on screen
    config: TrainConfig  # the settings the step loads
    look_at: tuple[str, ...]  # figures to point at, first the main one
    probe_y: float = 0.1
    pinned: TrainConfig | None = None  # a run drawn beside it (B), for a comparison


TOUR = (
    TourStep(
        "1. The truth",
        "The data come from a latent z ~ U(0, 1) through f(z) plus Gaussian noise. Every y "
        "between 0 and 0.25 has four z that could have produced it, so the true posterior p(z|y) "
        "has four modes: click the heat map to pick a y and see them.",
        MFG,
        ("truth_heatmap", "marginal"),
        probe_y=0.1,
    ),
    TourStep(
        "2. The baseline: MFG-VAE",
        "A mean-field Gaussian VAE (MFG-VAE: N(0, 1) prior, Gaussian q(z|y)) fits the density "
        "p(y) of the data. Compare its p_θ(y) with the truth, then look at the decoder: how "
        "close is it to f?",
        MFG,
        ("marginal", "decoder"),
        probe_y=0.1,
    ),
    TourStep(
        "3. A richer posterior: MoG-VAE",
        "Now q(z|y) is a mixture of M = 10 Gaussians (MoG: mixture of Gaussians), so it could "
        "put a peak on each of the four true modes. Does it? The line above the figures says how "
        "many peaks it really uses at this y.",
        MOG_POSTERIOR,
        ("posterior",),
        probe_y=0.1,
    ),
    TourStep(
        "4. The same with sharper data (σ = 0.03)",
        "With less noise the four true modes separate further and a single Gaussian fits them "
        "worse. Count the peaks of q(z|y) again, and compare with the model's own exact "
        "posterior p_θ(z|y) (olive, dashed).",
        MOG_POSTERIOR.replace(noise_std=0.03, steps=step_budget(0.03)),
        ("posterior", "marginal"),
        probe_y=0.1,
    ),
    TourStep(
        "5. A richer prior: a learned mixture",
        "Back to a Gaussian q(z|y), but the prior p(z) is now a learned mixture of 10 Gaussians. "
        "The prior figure shows its components next to the aggregate posterior q(z) = E_y q(z|y), "
        "the two distributions the KL term pulls together; the dashed run B is the MFG-VAE "
        "on the same seed.",
        MOG_PRIOR,
        ("prior", "posterior"),
        probe_y=0.1,
        pinned=MFG,
    ),
    TourStep(
        "6. Non-identifiability",
        "Two seeds of the MoG-VAE (A: seed 3, B: seed 0 dashed) fit p(y) about equally well, yet "
        "on the true latent's scale one decoder dips and rises (a U) and the other rises steadily: "
        "they differ from each other even after flipping the latent, and both differ from f. Many "
        "decoders give the same p(y), so the data alone cannot tell which is 'right'.",
        NON_IDENTIFIABLE_PAIR[0],
        ("decoder", "marginal"),
        probe_y=0.1,
        pinned=NON_IDENTIFIABLE_PAIR[1],
    ),
)


def step(index: int) -> TourStep:
    """The tour's step `index`, clamped to the tour (a stale index from a URL must not crash)."""
    return TOUR[min(max(index, 0), len(TOUR) - 1)]


def settings_summary(config: TrainConfig) -> str:
    """The settings in one line, for when the controls are collapsed (lecture mode)."""
    mixture = f", M = {config.n_components}" if "mog" in (config.prior, config.posterior) else ""
    return (
        f"{config.model_name}{mixture} · σ = {config.noise_std:g} · {config.steps} steps · "
        f"lr {config.lr:g} · width {config.hidden} · seed {config.seed}"
        f"{' · early stop' if config.early_stop else ''}"
        f"{'' if config.bounded_scales else ' · plain (unbounded) scales'}"
    )
