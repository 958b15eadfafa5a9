"""Start and stop `streamlit run app.py` on a free port, for the browser tests and benchmarks.

One copy of the command line, the health check and the clean-up, which the end-to-end tests
(tests/test_e2e_*.py) and the class benchmark (benchmarks/bench_class_browser.py) both need.

    process, url = start(cache_dir="/tmp/cache", log=Path("streamlit.log"))
    ...
    stop(process)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from vae_core.cache import CACHE_ENV

REPO = Path(__file__).resolve().parent.parent


class ServerDidNotStart(RuntimeError):
    """str(error) says why, with the end of the server's log when there is one."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(
    cache_dir: str | Path, log: Path | None = None, timeout: float = 60
) -> tuple[subprocess.Popen, str]:
    """The app on 127.0.0.1 with its result cache in `cache_dir`, answering its health check.

    The server gets its own process group, so `stop` also ends its training workers and any
    Chromium that PNG export started.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
    ]
    env = {**os.environ, CACHE_ENV: str(cache_dir)}
    output = open(log, "wb") if log is not None else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        if log is not None:
            output.close()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, timeout)
    except ServerDidNotStart as error:
        stop(process)
        tail = log.read_text(errors="replace")[-4000:] if log is not None else ""
        raise ServerDidNotStart(f"{error}\n{tail}".rstrip()) from None
    return process, url


def _wait_for_health(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise ServerDidNotStart(f"streamlit did not answer on {url}/_stcore/health in {timeout} s")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after 10 s, then to whatever is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers or a kaleido Chromium left behind
    except ProcessLookupError:
        pass
    process.wait()
