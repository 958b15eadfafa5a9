"""TrainConfig: the single source of truth for one training run (nanoGPT-style)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

PRIOR_KINDS = ("gaussian", "mog")
POSTERIOR_KINDS = ("gaussian", "mog")

MODEL_NAMES = {
    ("gaussian", "gaussian"): "MFG-VAE",
    ("gaussian", "mog"): "MoG-VAE (MoG posterior)",
    ("mog", "gaussian"): "MFG-VAE + MoG prior",
    ("mog", "mog"): "MoG prior + MoG posterior",
}

# The paper's settings (Tello Ayala & Benac 2023): the defaults of TrainConfig, the CLI and the app.
PAPER_NOISE_STD = 0.1  # σ, i.e. σ² = 0.01
PAPER_N_COMPONENTS = 10  # M, for the mixture prior and the mixture posterior alike

# What a TrainConfig may hold (checked by `problems`, so the CLI and any script get a clear error).
LIMITS = {
    "n_components": (1, 30),
    "noise_std": (0.005, 0.5),
    "n_train": (50, 20000),
    "n_test": (50, 20000),
    "hidden": (4, 256),
    "steps": (10, 50000),
    "batch_size": (10, 20000),
    "lr": (1e-5, 10.0),
    "samples_per_component": (1, 100),
    "seed": (0, 2**31 - 1),
    "data_seed": (0, 2**31 - 1),
}

# What the app's controls (and so its URL parameters) offer: choices, or ranges narrower than
# LIMITS. tests/test_config.py checks that every one lies inside LIMITS and holds the default.
NOISE_LEVELS = (0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
HIDDEN_WIDTHS = (8, 16, 32, 50, 100)
APP_RANGES = {
    "n_components": (1, 20),
    "steps": (100, 10000),
    "seed": (0, 9999),
}

# One name per setting wherever a person reads it (app labels, CLI help).
LABELS = {
    "prior": "Prior p(z)",
    "posterior": "Posterior q(z|y)",
    "n_components": "Components M",
    "noise_std": "Noise level σ",
    "steps": "Max. training steps",
    "lr": "Learning rate",
    "hidden": "Hidden width",
    "seed": "Seed",
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model. Same config → same numbers.

    Defaults were chosen by measurement (README "Training defaults"): minibatches of 100 and
    lr 0.01 cosine-decayed over 1000 steps bring all 9 models of the paper comparison at σ = 0.1
    within 0.005 nats of the true test log-likelihood, twice as fast as batches of 250 over
    2000 steps (which left two MoG-prior seeds 0.03 nats short).
    """

    prior: str = "gaussian"  # "gaussian": N(0, 1); "mog": learned (1/M) Σ N(μᵢ, σᵢ²)
    posterior: str = "gaussian"  # "gaussian": N(μ_θ(y), σ_θ²(y)); "mog": M equal-weight components
    n_components: int = PAPER_N_COMPONENTS  # M, for whichever of prior/posterior is a mixture
    noise_std: float = PAPER_NOISE_STD  # σ of y | z, known to the model
    n_train: int = 1000
    n_test: int = 1000
    hidden: int = 50  # width H of the 1 → H → H → out MLPs (decoder and encoder)
    steps: int = 2000  # maximum steps (the cosine schedule spans them): convergence.step_budget(σ)
    batch_size: int = 100  # y per step (minibatches drawn with replacement)
    lr: float = 0.01  # Adam's initial learning rate; cosine-decayed to lr · FINAL_LR_FRACTION (1/100)
    samples_per_component: int = 1  # z-samples per y and posterior component per step
    seed: int = 0  # initialisation and Monte Carlo noise
    data_seed: int = 0  # the training and test data
    early_stop: bool = True  # stop once the validation ELBO stops improving
    eval_every: int = 100  # steps between test evaluations and decoder snapshots
    # Scales of q and of a mixture prior in [floor, ceiling] (default), or exp(raw) as a plain
    # implementation has them, where a variance can collapse or explode (claim C2's divergence).
    bounded_scales: bool = True

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot be trained (empty if fine)."""
        found = []
        if self.prior not in PRIOR_KINDS:
            found.append(f"prior must be one of {PRIOR_KINDS}, not {self.prior!r}")
        if self.posterior not in POSTERIOR_KINDS:
            found.append(f"posterior must be one of {POSTERIOR_KINDS}, not {self.posterior!r}")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value <= high:
                found.append(f"{name} must be between {low} and {high}, not {value!r}")
        if isinstance(self.batch_size, int) and self.batch_size > self.n_train:
            found.append(f"batch_size ({self.batch_size}) cannot exceed n_train ({self.n_train})")
        return found

    @property
    def model_name(self) -> str:
        return MODEL_NAMES[(self.prior, self.posterior)]

    @property
    def has_mixture(self) -> bool:
        return "mog" in (self.prior, self.posterior)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def canonical(self) -> TrainConfig:
        """The config of the same model with M = 1 where nothing is a mixture.

        M plays no part in MFG-VAE, so configs differing only there train the same model: they
        share a cache entry and an ensemble, and moving the M slider never retrains it.
        """
        return self if self.has_mixture else self.replace(n_components=1)

    def key(self) -> str:
        """A stable short hash of every field that shapes the model: names cache entries."""
        text = json.dumps(self.canonical().to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def ensemble_key(self) -> tuple:
        """Configs with equal shapes train together as one ensemble (seeds, σ, lr, steps... may
        differ): the one definition of what can train together."""
        config = self.canonical()
        return (
            config.prior,
            config.posterior,
            config.n_components,
            config.hidden,
            config.batch_size,
            config.samples_per_component,
            config.n_train,
            config.bounded_scales,
        )

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)
