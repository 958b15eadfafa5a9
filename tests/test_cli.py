"""The command line trains, prints the metrics and writes valid PNG files."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from vae_core.cache import CACHE_ENV
from vae_core.export import chrome_path

REPO = Path(__file__).resolve().parent.parent


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def run_cli(*args, cache_dir):
    env = dict(os.environ, PYTHONPATH=str(REPO), **{CACHE_ENV: str(cache_dir)})
    return subprocess.run(
        [sys.executable, "-m", "vae_core", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_explains_every_flag(tmp_path):
    completed = run_cli("train", "--help", cache_dir=tmp_path)
    assert completed.returncode == 0
    for flag in ("--prior", "--posterior", "--components", "--noise-std", "--seed", "--out"):
        assert flag in completed.stdout


def test_bad_value_is_a_clear_error_not_a_traceback(tmp_path):
    completed = run_cli("train", "--noise-std", "-1", cache_dir=tmp_path)
    assert completed.returncode == 2
    assert "noise_std must be between" in completed.stdout
    assert "Traceback" not in completed.stderr


@pytest.mark.slow
def test_train_writes_metrics_and_valid_pngs(tmp_path):
    if chrome_path() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium (scripts/test.sh does)")
        pytest.skip("PNG export needs chromium")
    out = tmp_path / "figures"
    completed = run_cli(
        "train",
        "--prior",
        "mog",
        "--posterior",
        "gaussian",
        "--components",
        "5",
        "--noise-std",
        "0.1",
        "--seed",
        "0",
        "--steps",
        "200",
        "--scale",
        "1",
        "--out",
        str(out),
        cache_dir=tmp_path / "cache",
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "test log p_θ(y)" in completed.stdout
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 9 and (out / "encoder.png") in pngs
    for path in pngs:
        width, height = png_size(path.read_bytes())
        assert width >= 800 and height >= 300, (path.name, width, height)
    assert (out / "metrics.csv").read_text().startswith("metric,value,meaning")
    again = run_cli(
        "train",
        "--prior",
        "mog",
        "--posterior",
        "gaussian",
        "--components",
        "5",
        "--steps",
        "200",
        cache_dir=tmp_path / "cache",
    )
    assert "loaded from cache" in again.stdout
