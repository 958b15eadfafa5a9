"""What the benchmarks share: a stopwatch, the median of what finished, a list of times, load and
/proc readings, Markdown table rows."""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path


class Stopwatch:
    """Wall and CPU (user + sys, this process) seconds of the `with` block it times."""

    wall: float
    cpu: float

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def finished(seconds: list[float]) -> int:
    """How many of the times are not NaN (NaN: it never finished)."""
    return sum(s == s for s in seconds)


def median_and_max(seconds: list[float]) -> tuple[float, float]:
    """Median and maximum of the times that are not NaN (NaN: it never finished); NaN if none did."""
    done = [s for s in seconds if s == s]
    if not done:
        return math.nan, math.nan
    return statistics.median(done), max(done)


def fmt_times(seconds: list[float]) -> str:
    """Times as the reports list them: "1.64, 1.65, 1.76"."""
    return ", ".join(f"{s:.2f}" for s in seconds)


def load_average(separator: str = ", ") -> str:
    """The 1, 5 and 15 min load averages, two decimals each ("n/a" where the system has none)."""
    try:
        return separator.join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def proc_status(field: str, pid: int | str = "self") -> int:
    """The number after `field:` in /proc/<pid>/status (VmHWM in KiB, Threads, ...); 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of a process, MB."""
    return proc_status("VmHWM", pid) / 1024


def md_row(*cells: object) -> str:
    """One Markdown table row; an empty cell is written `| |`."""
    return "|" + "|".join(f" {cell} " if cell != "" else " " for cell in cells) + "|"


def md_rule(*alignments: str) -> str:
    """The row under a table's header: `---` (left) or `---:` (right) per column."""
    return "|" + "|".join(alignments) + "|"
