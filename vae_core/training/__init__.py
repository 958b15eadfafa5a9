"""Training: maximise the ELBO with Adam, many configs at once as one batched ensemble.

The engine is built for continuous batching: every member of an `Ensemble` carries its own state
(weights, Adam moments, step count and so learning-rate position, random generator, history),
so members can join and leave a running ensemble, be paused with a `Checkpoint` and resumed
later, and a member's numbers depend on its own config alone, never on what trains beside it.
Configs can train together when their `TrainConfig.ensemble_key()` is equal.

How that determinism is obtained (on CPU, one torch thread):
- every random number of a member comes from its own generator (member.py);
- the layers' products (vae_core.model.batched_affine) give a member the same bits alone and at
  any position of any ensemble;
- Adam is applied by hand on one flat, padded (members × P) buffer (optim.py);
- validation evaluations, snapshots and the final metrics use a single-member copy of the model.

Modules: optim (Adam, the learning-rate schedule), member (one member's state and result),
ensemble (members stepped together), loop (train, train_many, run_ensemble).
"""

from vae_core.training.ensemble import Ensemble
from vae_core.training.loop import run_ensemble, train, train_many
from vae_core.training.member import (
    SNAPSHOT_U,
    SNAPSHOT_Z,
    Checkpoint,
    Member,
    Progress,
    TrainResult,
    build_model,
)

__all__ = [
    "SNAPSHOT_U",
    "SNAPSHOT_Z",
    "Checkpoint",
    "Ensemble",
    "Member",
    "Progress",
    "TrainResult",
    "build_model",
    "run_ensemble",
    "train",
    "train_many",
]
