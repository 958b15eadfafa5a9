"""Disk cache of trained results: json + safetensors, never pickle (a cache can be shared).

Layout: <cache dir>/<config key>/meta.json and tensors.safetensors. An entry whose format version,
config or files do not match is ignored (and retrained by `cached_train`), never a crash.
Entries are written to a temporary folder and renamed into place, so a reader never sees half.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from vae_core.config import TrainConfig
from vae_core.training import TrainResult, build_model, train, train_many

# Bumped whenever stored results would differ: format or training semantics (v2: patience-based
# early stop, explosion = divergence, ensemble_size; v3: the stopping rule waits for 90 % of the
# step budget instead of 70 %, so a v2 entry of the same config stopped earlier, with other numbers;
# v4: the first layers' products are computed elementwise (vae_core.model.batched_affine), which
# makes a member's numbers the same at every position of a batch, and rounds differently).
FORMAT_VERSION = 4
HISTORY_COLUMNS = ("step", "train_elbo", "validation_elbo", "validation_log_likelihood")
PRESETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "presets"


def presets_dir() -> Path:
    """The folder of the shipped presets."""
    return PRESETS_DIR


def default_cache_dir() -> Path:
    """Where the app and the CLI keep trained results (README, "Where results are kept").

    $VAE_MOG_LAB_CACHE if set, else $XDG_CACHE_HOME/vae-mog-lab, else ~/.cache/vae-mog-lab:
    one folder outside the checkout, so results survive a fresh clone and the CLI and the app
    reuse each other's.
    """
    configured = os.environ.get("VAE_MOG_LAB_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-mog-lab"


def entry_dir(config: TrainConfig, directory: Path) -> Path:
    return Path(directory) / f"{config.key()}-v{FORMAT_VERSION}"


def save_result(result: TrainResult, directory: Path) -> Path:
    """Store a result under its config's key; returns the entry's folder."""
    target = entry_dir(result.config, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        tensors = {f"model.{k}": v.contiguous() for k, v in result.model.state_dict().items()}
        for column in HISTORY_COLUMNS:
            tensors[f"history.{column}"] = torch.tensor(
                result.history[column].to_numpy(dtype=np.float64, copy=True)
            )
        tensors["snapshot.steps"] = torch.tensor(result.snapshot_steps, dtype=torch.int64)
        tensors["snapshot.decoder"] = torch.tensor(result.snapshot_decoder)
        tensors["snapshot.aligned"] = torch.tensor(result.snapshot_aligned)
        save_file(tensors, staging / "tensors.safetensors")
        meta = {
            "format_version": FORMAT_VERSION,
            "config": result.config.to_dict(),
            "status": result.status,
            "steps_run": result.steps_run,
            "diverged_step": result.diverged_step,
            "diverged_reason": result.diverged_reason,
            "train_seconds": result.train_seconds,
            "ensemble_size": result.ensemble_size,
            "metrics": result.metrics,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_result(config: TrainConfig, directory: Path) -> TrainResult | None:
    """The stored result of exactly this config, or None if absent, stale or unreadable."""
    source = entry_dir(config, directory)
    try:
        meta = json.loads((source / "meta.json").read_text())
        # key() equality, not dict equality: an entry stored under a canonical config (M = 1
        # for MFG-VAE) serves every config of the same model.
        if meta["format_version"] != FORMAT_VERSION:
            return None
        if TrainConfig(**meta["config"]).key() != config.key():
            return None
        tensors = load_file(source / "tensors.safetensors")
        model = build_model([config])
        prefix = "model."
        model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        history = pd.DataFrame({c: tensors[f"history.{c}"].numpy() for c in HISTORY_COLUMNS})
        history["step"] = history["step"].astype(int)
        return TrainResult(
            config=config,
            model=model,
            history=history,
            snapshot_steps=tensors["snapshot.steps"].numpy(),
            snapshot_decoder=tensors["snapshot.decoder"].numpy(),
            snapshot_aligned=tensors["snapshot.aligned"].numpy(),
            metrics={k: float(v) for k, v in meta["metrics"].items()},
            status=meta["status"],
            steps_run=int(meta["steps_run"]),
            diverged_step=meta["diverged_step"],
            diverged_reason=meta["diverged_reason"],
            train_seconds=float(meta["train_seconds"]),
            ensemble_size=int(meta["ensemble_size"]),
        )
    except Exception:  # any damage at all means "not cached": the caller retrains
        return None


def lookup(config: TrainConfig, directories) -> TrainResult | None:
    """The first readable entry for config among `directories` (e.g. user cache, then presets)."""
    for directory in directories:
        result = load_result(config, directory)
        if result is not None:
            return result
    return None


def cached_train(
    config: TrainConfig,
    directory: Path | None = None,
    on_progress=None,
    should_stop=None,
    read_only_dirs=(PRESETS_DIR,),
) -> tuple[TrainResult, bool]:
    """(result, came_from_cache). Trains and stores on a miss; a user-stopped run is not stored."""
    directory = Path(directory) if directory is not None else default_cache_dir()
    cached = lookup(config, [directory, *read_only_dirs])
    if cached is not None:
        return cached, True
    result = train(config, on_progress=on_progress, should_stop=should_stop)
    if result.status != "stopped":
        save_result(result, directory)
    return result, False


def cached_train_many(
    configs: list[TrainConfig],
    directory: Path | None = None,
    on_progress=None,
    should_stop=None,
    read_only_dirs=(PRESETS_DIR,),
) -> list[TrainResult]:
    """Like `cached_train` for several configs: the misses train together as ensembles."""
    directory = Path(directory) if directory is not None else default_cache_dir()
    results = [lookup(config, [directory, *read_only_dirs]) for config in configs]
    missing = [i for i, result in enumerate(results) if result is None]
    if missing:
        trained = train_many([configs[i] for i in missing], on_progress, should_stop)
        for i, result in zip(missing, trained):
            results[i] = result
            if result.status != "stopped":
                save_result(result, directory)
    return results
