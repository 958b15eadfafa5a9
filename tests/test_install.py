"""Installed, it works: the wheel carries the presets, and its CLI loads one from anywhere.

The wheel is built from a copy of the sources (no network, no build isolation) and installed
without dependencies into a fresh venv whose dependencies come from this interpreter's own
site-packages (a .pth file), so the test needs nothing that is not already here.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from vae_core.cache import CACHE_ENV, PRESETS_ENV

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "requirements.txt", "requirements-dev.txt", "vae_core")


def run(command, **kwargs) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def build_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the sources, so the checkout gets no build/ or egg-info."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, source])
    (wheel,) = wheels.glob("vae_mog_lab-*.whl")
    return wheel


def install_in_fresh_venv(wheel: Path, tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python]
    run([*pip, "install", "--no-deps", "--no-index", wheel])
    # Only now the dependencies: with them visible, pip would see the checkout's own (editable)
    # vae-mog-lab and not install the wheel.
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "shared-dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(shared)))
    return venv


def test_the_installed_cli_loads_a_preset_and_writes_its_metrics(tmp_path):
    venv = install_in_fresh_venv(build_wheel(tmp_path), tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # No Chromium on PATH: the CLI writes metrics.csv, then says PNG export needs Chromium (the
    # PNGs have their own test in test_cli.py; here they would only cost time).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", PRESETS_ENV)}
    env.update({"PATH": str(venv / "bin"), CACHE_ENV: str(tmp_path / "empty-cache")})
    find = "import importlib.util; print(importlib.util.find_spec('vae_core').origin)"
    origin = Path(run([venv / "bin" / "python", "-c", find], cwd=elsewhere, env=env).stdout.strip())
    assert origin.is_relative_to(venv)  # the wheel's vae_core, not the checkout's
    assert len(list((origin.parent / "pretrained").glob("*-v*/meta.json"))) == 40

    out = elsewhere / "out"
    completed = subprocess.run(
        [venv / "bin" / "vae-mog-lab", "train", "--out", out],  # the defaults: a preset
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert "MFG-VAE: loaded from cache" in completed.stdout, output
    assert (out / "metrics.csv").read_text().startswith("metric,value,meaning"), output
    assert not (tmp_path / "empty-cache").exists()  # nothing trained, nothing stored
    assert completed.returncode == 1 and "needs Chromium" in completed.stdout, output
