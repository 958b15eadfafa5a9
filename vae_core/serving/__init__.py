"""The training service and its parts (see service.py); docs/serving.md explains the design."""

from vae_core.serving.protocol import RequestState, Status
from vae_core.serving.scheduler import ServerBusy
from vae_core.serving.service import TrainingService, default_workers

__all__ = ["RequestState", "ServerBusy", "Status", "TrainingService", "default_workers"]
