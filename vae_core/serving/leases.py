"""Several servers sharing one cache folder train each config once.

App replicas behind a proxy share the cache folder. Before training a config a server claims it
with a file created exclusively (O_EXCL, atomic on local and NFSv3+ volumes) in
<cache>/.claims/, refreshes the claim's time while training and removes it when done. Another
server asking for the same config waits for the result to appear in the cache instead of
training it again; a claim not refreshed for CLAIM_STALE_AFTER s (its server died) is taken over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from vae_core.cache import lookup
from vae_core.config import TrainConfig
from vae_core.training import TrainResult

CLAIM_STALE_AFTER = 30.0  # s: a claim its server stopped refreshing is abandoned
CLAIMS_FOLDER = ".claims"


class Leases:
    """This server's claims (by config key) in <cache_dir>/.claims/."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = Path(cache_dir)
        self.folder = self.cache_dir / CLAIMS_FOLDER
        self.held: set[str] = set()

    def claim(self, key: str) -> bool:
        """True if this server may train the config (claimed now or before); False if another
        server holds a fresh claim on it."""
        if key in self.held:
            return True
        path = self.folder / key
        for _ in range(2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not _stale(path):
                    return False
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            except OSError:
                return True  # an unwritable cache: no coordination, train here
            with os.fdopen(descriptor, "w") as claim:
                claim.write(f"{socket.gethostname()} {os.getpid()}\n")
            self.held.add(key)
            return True
        return False

    def holds(self, key: str) -> bool:
        return key in self.held

    def release(self, key: str) -> None:
        self.held.discard(key)
        with contextlib.suppress(OSError):
            (self.folder / key).unlink()

    def release_all(self) -> None:
        """At shutdown: other servers need not wait for these claims to go stale."""
        for key in list(self.held):
            self.release(key)

    def refresh(self) -> None:
        now = time.time()
        for key in list(self.held):
            with contextlib.suppress(OSError):
                os.utime(self.folder / key, (now, now))

    def finished_elsewhere(self, config: TrainConfig) -> TrainResult | None:
        """The result another server trained, once it is in the shared cache."""
        return lookup(config, [self.cache_dir])


def _stale(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > CLAIM_STALE_AFTER
    except OSError:
        return True  # removed meanwhile: try again
