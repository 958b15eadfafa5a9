"""vae-mog-lab's science core: ground truth, VAEs with Gaussian / mixture priors and posteriors,
fast batched training, exact diagnostics, a disk cache and Plotly figures. Never imports streamlit."""

from vae_core.config import TrainConfig
from vae_core.model import VAE
from vae_core.paper import MODEL_NAMES
from vae_core.training import Progress, TrainResult, train, train_many

__all__ = ["MODEL_NAMES", "TrainConfig", "VAE", "Progress", "TrainResult", "train", "train_many"]
