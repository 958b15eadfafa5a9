"""Disk cache: round trip, and damaged or stale entries are retrained, never a crash."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import vae_core
from vae_core import exact
from vae_core.cache import (
    FORMAT_VERSION,
    cached_train,
    cached_train_many,
    entry_dir,
    load_result,
    save_result,
)
from vae_core.config import TrainConfig

SMALL = TrainConfig(
    prior="mog",
    posterior="mog",
    n_components=3,
    steps=120,
    eval_every=40,
    n_train=200,
    n_test=200,
    batch_size=100,
    hidden=16,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cache")
    result, from_cache = cached_train(SMALL, directory, read_only_dirs=())
    assert not from_cache
    return directory, result


def test_round_trip_restores_everything(trained):
    directory, result = trained
    loaded = load_result(SMALL, directory)
    assert loaded is not None
    pd.testing.assert_frame_equal(loaded.history, result.history)
    assert loaded.metrics == result.metrics
    assert loaded.status == result.status and loaded.steps_run == result.steps_run
    np.testing.assert_array_equal(loaded.snapshot_steps, result.snapshot_steps)
    np.testing.assert_array_equal(loaded.snapshot_aligned, result.snapshot_aligned)
    y = torch.linspace(-0.3, 0.5, 17)
    torch.testing.assert_close(
        exact.log_marginal(loaded.model, y), exact.log_marginal(result.model, y), rtol=0, atol=0
    )
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor), name


def test_second_call_is_a_cache_hit(trained):
    directory, result = trained
    again, from_cache = cached_train(SMALL, directory, read_only_dirs=())
    assert from_cache
    assert again.metrics == result.metrics


def test_corrupted_tensor_file_is_retrained(trained, tmp_path):
    _, result = trained
    save_result(result, tmp_path)
    (entry_dir(SMALL, tmp_path) / "tensors.safetensors").write_bytes(b"not a safetensors file")
    assert load_result(SMALL, tmp_path) is None
    retrained, from_cache = cached_train(SMALL, tmp_path, read_only_dirs=())
    assert not from_cache
    pd.testing.assert_frame_equal(retrained.history, result.history)  # same seed, same numbers
    assert load_result(SMALL, tmp_path) is not None  # and the entry was repaired


@pytest.mark.parametrize("damage", ["old_version", "other_config", "truncated_json"])
def test_stale_or_damaged_metadata_is_ignored(trained, tmp_path, damage):
    _, result = trained
    save_result(result, tmp_path)
    meta_path = entry_dir(SMALL, tmp_path) / "meta.json"
    meta = json.loads(meta_path.read_text())
    if damage == "old_version":
        meta["format_version"] = FORMAT_VERSION - 1
        meta_path.write_text(json.dumps(meta))
    elif damage == "other_config":
        meta["config"]["seed"] = 99
        meta_path.write_text(json.dumps(meta))
    else:
        meta_path.write_text(meta_path.read_text()[:40])
    assert load_result(SMALL, tmp_path) is None


def test_stopped_runs_are_not_cached(tmp_path):
    result, _ = cached_train(SMALL.replace(seed=5), tmp_path, should_stop=lambda: True, read_only_dirs=())
    assert result.status == "stopped"
    assert load_result(SMALL.replace(seed=5), tmp_path) is None


def test_cached_train_many_trains_only_the_misses(trained, tmp_path, monkeypatch):
    _, result = trained
    save_result(result, tmp_path)
    calls = []
    import vae_core.cache as cache

    real = cache.train_many

    def counting(configs, *args, **kwargs):
        calls.append([c.seed for c in configs])
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(cache, "train_many", counting)
    results = cached_train_many([SMALL, SMALL.replace(seed=1)], tmp_path, read_only_dirs=())
    assert calls == [[1]]
    assert results[0].metrics == result.metrics
    assert results[1].config.seed == 1


def test_one_default_cache_folder_for_app_and_cli(monkeypatch, tmp_path):
    """$VAE_MOG_LAB_CACHE (CACHE_ENV) wins, then $XDG_CACHE_HOME/vae-mog-lab, then ~/.cache/vae-mog-lab."""
    from dashboard.service_client import cache_dir
    from vae_core.cache import CACHE_ENV, default_cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "vae-mog-lab"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "vae-mog-lab"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    assert cache_dir() == default_cache_dir()


def test_presets_are_the_packaged_folder_unless_a_setting_names_another(monkeypatch, tmp_path):
    from vae_core.cache import PRESETS_ENV, presets_dir

    monkeypatch.delenv(PRESETS_ENV, raising=False)
    assert presets_dir() == Path(vae_core.__file__).resolve().parent / "pretrained"
    assert any(presets_dir().glob(f"*-v{FORMAT_VERSION}/meta.json"))
    monkeypatch.setenv(PRESETS_ENV, str(tmp_path))
    assert presets_dir() == tmp_path
