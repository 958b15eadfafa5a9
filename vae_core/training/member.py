"""One member of an ensemble: its checkpointable state, its own data and noise, and its result.

Every random number of a member (initialisation, minibatch indices, Monte Carlo ε) comes from its
own torch.Generator, drawn in chunks of NOISE_CHUNK of its *own* steps, so a member's numbers are
a function of its config alone, wherever and beside whatever it trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from vae_core.config import TrainConfig
from vae_core.data import training_data, validation_data
from vae_core.metrics import evaluate
from vae_core.model import VAE

NOISE_CHUNK = 100  # a member's own steps of Monte Carlo noise drawn in one call
NOISE_SEED_MULTIPLIER, NOISE_SEED_OFFSET = 7919, 17
# Decoder snapshots (for the training animation) on these z, and on the true latent's scale u.
SNAPSHOT_Z = np.linspace(-3.0, 3.0, 121)
SNAPSHOT_U = (np.arange(100) + 0.5) / 100


@dataclass
class Progress:
    """What `on_progress` receives: enough to draw a live ELBO curve."""

    step: int
    total_steps: int
    steps: np.ndarray  # steps logged so far
    train_elbo: np.ndarray  # (len(steps), members) mean train ELBO per step (NaN once finished)
    configs: list[TrainConfig]


@dataclass
class TrainResult:
    config: TrainConfig
    model: VAE
    history: pd.DataFrame  # step, train_elbo, validation_elbo, validation_log_likelihood (NaN off-eval)
    snapshot_steps: np.ndarray
    snapshot_decoder: np.ndarray  # f_φ(z) on SNAPSHOT_Z, one row per snapshot
    snapshot_aligned: np.ndarray  # f_φ(F_prior⁻¹(u)) on SNAPSHOT_U, one row per snapshot
    metrics: dict = field(default_factory=dict)
    status: str = "completed"  # completed | converged | stopped | diverged
    steps_run: int = 0
    diverged_step: int | None = None
    diverged_reason: str = ""
    train_seconds: float = 0.0  # wall time this member spent in training steps
    ensemble_size: int = 1  # the most members it trained beside (itself included)

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"


@dataclass
class Checkpoint:
    """Everything needed to continue one member exactly where it was: picklable, CPU only.

    A run paused and resumed from its checkpoint gives the numbers of an uninterrupted run.
    """

    config: TrainConfig
    step: int
    weights: dict[str, torch.Tensor]  # single-member state dict
    exp_avg: torch.Tensor  # Adam moments, flat in the order of VAE.parameters()
    exp_avg_sq: torch.Tensor
    chunk_rng_state: torch.Tensor  # the generator's state before the current noise chunk
    chunk_start: int  # the step that chunk starts at
    train_elbo: list[float]
    evaluations: list[tuple[int, float, float]]  # (step, validation ELBO, validation log-lik)
    snapshots: list[tuple[int, np.ndarray, np.ndarray]]  # (step, decoder, aligned decoder)
    train_seconds: float = 0.0
    ensemble_size: int = 1


def build_model(configs: list[TrainConfig]) -> VAE:
    """An initialised model with one member per config (all of one ensemble_key)."""
    first = configs[0]
    model = VAE(
        first.prior,
        first.posterior,
        first.n_components,
        first.hidden,
        [c.noise_std for c in configs],
        n_members=len(configs),
        bounded_scales=first.bounded_scales,
    )
    for member, config in enumerate(configs):
        model.reset_member(member, config.seed)
    return model


def snapshot(model: VAE) -> tuple[np.ndarray, np.ndarray]:
    """The decoder of a single-member model on SNAPSHOT_Z and on the aligned SNAPSHOT_U."""
    with torch.no_grad():
        z = torch.as_tensor(SNAPSHOT_Z, dtype=torch.float32).unsqueeze(0)
        decoded = model.decode(z).double().numpy()[0]
        aligned = model.aligned_decoder(SNAPSHOT_U).numpy()[0]
    return decoded, aligned


class Member:
    """A config being trained: its checkpointable state plus its data and noise chunk."""

    def __init__(
        self, config: TrainConfig, checkpoint: Checkpoint | None = None, pause_at: int | None = None
    ):
        self.config = config
        self.pause_at = pause_at  # pause once this many steps are done (None: run to the end)
        self.status = "training"  # → completed | converged | diverged | stopped | paused
        self.finished_step: int | None = None
        self.diverged_reason = ""
        train_y, test_y = training_data(config)
        self.train_y, self.test_y = train_y.float(), test_y
        self.valid_y = validation_data(config)
        self.generator = torch.Generator()
        self.single = build_model([config])  # evaluations and snapshots use a lone copy
        if checkpoint is None:
            checkpoint = self._fresh_checkpoint()
        self.checkpoint = checkpoint  # filled in while outside an ensemble, stale inside one
        self.step = checkpoint.step
        self.train_elbo = list(checkpoint.train_elbo)
        self.evaluations = list(checkpoint.evaluations)
        self.snapshots = list(checkpoint.snapshots)
        self.train_seconds = checkpoint.train_seconds
        self.ensemble_size = checkpoint.ensemble_size
        self.generator.set_state(checkpoint.chunk_rng_state)
        self._draw_chunk(checkpoint.chunk_start)
        if self.step == 0 and not self.snapshots:
            self.snapshots.append((0, *snapshot(self.single)))

    def _fresh_checkpoint(self) -> Checkpoint:
        weights = {k: v.clone() for k, v in self.single.state_dict().items()}
        size = sum(p.numel() for p in self.single.parameters())
        rng = torch.Generator().manual_seed(self.config.seed * NOISE_SEED_MULTIPLIER + NOISE_SEED_OFFSET)
        return Checkpoint(
            self.config, 0, weights, torch.zeros(size), torch.zeros(size), rng.get_state(), 0, [], [], []
        )

    def _draw_chunk(self, start: int) -> None:
        """The noise of the NOISE_CHUNK steps from `start` (a multiple of NOISE_CHUNK)."""
        self.chunk_start = start
        self.chunk_rng_state = self.generator.get_state()
        config = self.config
        shape = (NOISE_CHUNK, config.batch_size, self.single.samples_per_y(config.samples_per_component))
        self.noise = torch.randn(shape, generator=self.generator)
        self.indices = (
            torch.randint(config.n_train, shape[:2], generator=self.generator)
            if config.batch_size < config.n_train
            else None
        )

    def step_noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This step's ε and minibatch indices: a function of the member's seed and step alone."""
        if self.step - self.chunk_start >= NOISE_CHUNK:
            self._draw_chunk(self.step)
        offset = self.step - self.chunk_start
        return self.noise[offset], None if self.indices is None else self.indices[offset]

    @property
    def finished(self) -> bool:
        return self.status != "training"

    def save(self, weights: dict, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor) -> Checkpoint:
        """Record this member's state (from its ensemble) as a checkpoint."""
        self.checkpoint = Checkpoint(
            self.config,
            self.step,
            {k: v.detach().cpu().clone() for k, v in weights.items()},
            exp_avg.cpu().clone(),
            exp_avg_sq.cpu().clone(),
            self.chunk_rng_state.clone(),
            self.chunk_start,
            list(self.train_elbo),
            list(self.evaluations),
            list(self.snapshots),
            self.train_seconds,
            self.ensemble_size,
        )
        return self.checkpoint

    def history(self) -> pd.DataFrame:
        """The history up to the member's last valid step (a diverged member's first bad one)."""
        last = self.finished_step if self.finished_step is not None else self.step
        steps = np.arange(1, last + 1)
        history = pd.DataFrame(
            {"step": steps, "train_elbo": np.asarray(self.train_elbo[:last], dtype=np.float64)}
        )
        history["validation_elbo"] = np.nan
        history["validation_log_likelihood"] = np.nan
        for eval_step, elbo, log_lik in self.evaluations:
            if eval_step <= last:
                history.loc[eval_step - 1, ["validation_elbo", "validation_log_likelihood"]] = (elbo, log_lik)
        return history

    def result(self) -> TrainResult:
        """The TrainResult of a finished (or stopped) member, from its checkpointed weights."""
        last = self.finished_step if self.finished_step is not None else self.step
        self.single.load_state_dict(self.checkpoint.weights)
        status = "stopped" if self.status in ("paused", "training") else self.status
        kept = [s for s in self.snapshots if s[0] <= last]
        if status != "diverged" and kept[-1][0] != last:
            kept.append((last, *snapshot(self.single)))
        result = TrainResult(
            config=self.config,
            model=self.single,
            history=self.history(),
            snapshot_steps=np.array([s[0] for s in kept], dtype=np.int64),
            snapshot_decoder=np.array([s[1] for s in kept]).reshape(len(kept), len(SNAPSHOT_Z)),
            snapshot_aligned=np.array([s[2] for s in kept]).reshape(len(kept), len(SNAPSHOT_U)),
            status=status,
            steps_run=last,
            diverged_step=last if status == "diverged" else None,
            diverged_reason=self.diverged_reason,
            train_seconds=self.train_seconds,
            ensemble_size=self.ensemble_size,
        )
        if status != "diverged":
            result.metrics = evaluate(self.single, self.config, self.test_y)
        return result
