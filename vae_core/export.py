"""Server-side PNG export through kaleido 1.x, with one persistent Chrome per process.

kaleido starts a fresh Chrome for every `to_image` call (seconds each); its sync server keeps
one alive (~0.15 s per figure after the first). The server handles one request at a time and
Streamlit serves sessions from several threads, so calls are serialised with a lock.
"""

from __future__ import annotations

import io
import shutil
import threading
import warnings
import zipfile
from pathlib import Path

import plotly.graph_objects as go

CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
# How the browser tests, the class benchmark and the README's GIF script start headless
# Chromium (Playwright): one list, so they all measure and show the same browser.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_SIZE = (1100, 450)
_lock = threading.Lock()


class ExportError(RuntimeError):
    """PNG export is not possible on this machine (usually: no Chromium installed)."""


def chrome_path() -> str | None:
    for name in CHROME_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _ensure_server() -> None:
    import kaleido
    from kaleido import _sync_server

    server = _sync_server.GlobalKaleidoServer()
    thread = getattr(server, "_thread", None)
    if server.is_running() and thread is not None and thread.is_alive():
        return
    if server.is_running():  # its Chrome died: start again rather than wait on it forever
        server._initialized = False
    kaleido.start_sync_server(silence_warnings=True)


def figure_to_png(fig: go.Figure, scale: float = 2.0, size: tuple[int, int] | None = None) -> bytes:
    """PNG bytes of a figure at its own height (or `size`), `scale` times the pixels."""
    if chrome_path() is None:
        raise ExportError(
            "Server-side PNG export needs Chromium (Debian: apt-get install -y chromium). "
            "The camera icon in the chart's toolbar still saves a PNG from your browser."
        )
    width = size[0] if size else DEFAULT_SIZE[0]
    height = size[1] if size else (fig.layout.height or DEFAULT_SIZE[1])
    with _lock:
        try:
            _ensure_server()
            with warnings.catch_warnings():
                # plotly passes Chrome options that a running server ignores; that is the point.
                warnings.filterwarnings("ignore", message="The kopts argument is ignored")
                return fig.to_image(format="png", width=width, height=height, scale=scale)
        except Exception as error:  # kaleido raises several types; the user needs one message
            raise ExportError(f"PNG export failed: {error}") from error


def figures_to_zip(figures: dict[str, go.Figure], scale: float = 2.0) -> bytes:
    """A zip of `<name>.png` for every figure."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, fig in figures.items():
            archive.writestr(f"{name}.png", figure_to_png(fig, scale=scale))
    return buffer.getvalue()


def write_pngs(figures: dict[str, go.Figure], directory: Path, scale: float = 2.0) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        path = directory / f"{name}.png"
        path.write_bytes(figure_to_png(fig, scale=scale))
        written.append(path)
    return written
