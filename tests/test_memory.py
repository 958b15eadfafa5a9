"""vae_core.training.memory: the malloc settings that keep a step's freed memory in the process."""

from __future__ import annotations

import ctypes
import platform

import pytest

from vae_core.training import memory
from vae_core.training.ensemble import Ensemble


def glibc() -> bool:
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_the_settings_take_once_per_process_under_glibc():
    if not glibc():
        pytest.skip("mallopt is glibc's")
    assert memory.keep_freed_memory() is True
    assert memory.keep_freed_memory() is True  # cached: set once
    assert memory.keep_freed_memory.cache_info().misses == 1


def test_every_ensemble_sets_them(monkeypatch):
    calls = []
    monkeypatch.setattr("vae_core.training.ensemble.keep_freed_memory", lambda: calls.append(1))
    Ensemble(("gaussian",))
    assert calls == [1]


def test_without_mallopt_nothing_is_done(monkeypatch):
    """Elsewhere (macOS, musl) there is no mallopt: a no-op, not an error."""

    class NoMallopt:
        def __init__(self, name):
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    assert memory.keep_freed_memory.__wrapped__() is False
