"""A class over Streamlit's websocket: N real sessions of `streamlit run app.py`, no browser.

The students' browsers run on their own laptops in a lecture hall, so this benchmark drives the
server the way they do but does not render: one asyncio process (at a lower priority than the
server) opens N sessions on `/_stcore/stream` and speaks the protocol of the pinned Streamlit
(1.67) as its frontend does:

- it asks for a run with `BackMsg.rerun_script` (the page's name and query string first, then
  the page's script hash the server sent, the query string the app wrote back);
- it presses a button by its widget id (read from the deltas the server sends, found by its
  label) with a `trigger_value`, sent once, as the frontend does;
- it answers each `auto_rerun` (a fragment's `run_every`) with the fragment's rerun every
  interval, and stops when a full run starts or the server says `stop_auto_rerun`: the Train
  page's progress fragment then redraws, and reruns the page when the model is ready.

Unlike the browser it sends only the pressed button's state, not every widget's value: the server
keeps the others from the last run (the test checks that each session trains its URL's config).

For each student: the time from the click to the result line ("training took") on its page;
meanwhile a latecomer opens the Overview every 3 s in a new session and is timed from connecting
to its script's end. Also the server's CPU seconds (its own and its training workers'), peak RSS
and thread count, from /proc.

    python -m benchmarks.bench_class_ws --sessions 20               # distinct seeds
    python -m benchmarks.bench_class_ws --sessions 20 --same-config
    python -m benchmarks.bench_class_ws --sessions 1 --config ""    # the page's default model
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from benchmarks.common import finished, fmt_times, load_average, md_row, md_rule, median_and_max, proc_status
from scripts import app_server

STREAM_PATH = "/_stcore/stream"
SUBPROTOCOL = Subprotocol("streamlit")  # the first entry; the frontend adds an XSRF token, unused here
HEAVIEST = "prior=mog&posterior=mog&M=10&noise=0.1"  # as bench_class_browser.py
DONE_TEXT = "training took"  # the result line every finished run shows on the Train page
TRAIN_PAGE = "train"  # the page's URL name (views/train.py)
OVERVIEW_PAGE = ""  # the default page, at the app's root
TRAIN_LABEL = "Train"
LATECOMER_EVERY = 3.0  # s between the latecomer's page loads, as in bench_class_browser.py
CLIENT_NICE = 10  # how much lower than the server the client runs
TEXT_ELEMENTS = ("alert", "markdown", "text", "heading")  # elements whose .body is text to read


@dataclass
class SessionLog:
    """What one session's page received: its buttons, result line, exceptions, runs."""

    buttons: dict[str, str] = field(default_factory=dict)  # label → widget id
    result_text: str | None = None
    result_at: float | None = None  # perf_counter() when the result line arrived
    exceptions: list[str] = field(default_factory=list)
    full_runs_finished: int = 0
    auto_reruns_sent: int = 0
    closed: str | None = None  # why the connection ended, if the server ended it


class Session:
    """One Streamlit session over the websocket, answering the server as the frontend does."""

    def __init__(self, base_url: str) -> None:
        self.ws_url = base_url.replace("http://", "ws://", 1) + STREAM_PATH
        self.log = SessionLog()
        self.page_name = ""
        self.page_script_hash = ""
        self.query_string = ""
        self._ws: ClientConnection | None = None
        self._receiver: asyncio.Task | None = None
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}  # fragment id → interval, loop
        self._changed = asyncio.Condition()

    async def open(self) -> None:
        # No client pings: a browser sends none, and on a loaded machine a late pong would close it.
        self._ws = await connect(
            self.ws_url, subprotocols=[SUBPROTOCOL], max_size=None, ping_interval=None, open_timeout=120
        )
        self._receiver = asyncio.create_task(self._receive())

    async def close(self) -> None:
        self._stop_timers(list(self._timers))
        if self._ws is not None:
            await self._ws.close()
        if self._receiver is not None:
            await asyncio.gather(self._receiver, return_exceptions=True)

    # ----- what the session sends ----------------------------------------------------------

    async def load(self, page_name: str, query: str, timeout: float = 300.0) -> float:
        """Opens a page as a browser's first request does; seconds until its script finished."""
        started = time.perf_counter()
        self.page_name, self.page_script_hash, self.query_string = page_name, "", query
        runs = self.log.full_runs_finished
        await self._rerun()
        await self.wait_for(lambda: self.log.full_runs_finished > runs, timeout)
        return time.perf_counter() - started

    async def click(self, label: str) -> float:
        """Presses the button labelled `label` on the page; returns perf_counter() at the send."""
        trigger = WidgetState(id=self.log.buttons[label], trigger_value=True)
        clicked = time.perf_counter()
        await self._rerun(widgets=[trigger])
        return clicked

    async def _rerun(self, widgets: tuple | list = (), fragment_id: str = "", auto: bool = False) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        if not self.page_script_hash:  # the first request names the page by its URL
            state.page_name = self.page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.widget_states.widgets.extend(widgets)
        await self._ws.send(message.SerializeToString())

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        # The frontend's setInterval: fires whether or not a run is in progress.
        while True:
            await asyncio.sleep(interval)
            self.log.auto_reruns_sent += 1
            await self._rerun(fragment_id=fragment_id, auto=True)

    # ----- what the session receives --------------------------------------------------------

    async def wait_for(self, condition, timeout: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def _receive(self) -> None:
        try:
            async for data in self._ws:
                message = ForwardMsg()
                message.ParseFromString(data)
                self._handle(message)
                async with self._changed:
                    self._changed.notify_all()
        except ConnectionClosed as closed:
            self.log.closed = str(closed)
        finally:
            async with self._changed:
                self._changed.notify_all()

    def _handle(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "new_session":
            if not message.metadata.run.fragment_ids:  # a full run: the frontend drops its timers
                self._stop_timers(list(self._timers))
        elif kind == "navigation":
            # With st.navigation the page that ran is named here (new_session names app.py).
            self.page_script_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string  # the app wrote the URL
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._read_element(message.delta.new_element)
        elif kind == "auto_rerun":
            self._start_timer(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            self._stop_timers(list(message.stop_auto_rerun.fragment_ids))
        elif kind == "script_finished" and message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
            self.log.full_runs_finished += 1

    def _read_element(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "button":
            self.log.buttons[element.button.label] = element.button.id
        elif kind == "exception":
            self.log.exceptions.append(f"{element.exception.type}: {element.exception.message}")
        elif kind in TEXT_ELEMENTS and self.log.result_at is None:
            body = getattr(element, kind).body
            if DONE_TEXT in body:
                self.log.result_at, self.log.result_text = time.perf_counter(), body

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        running = self._timers.get(fragment_id)
        if running is not None and running[0] == interval:  # the frontend keeps such a timer
            return
        self._stop_timers([fragment_id])
        self._timers[fragment_id] = (interval, asyncio.create_task(self._auto_rerun(fragment_id, interval)))

    def _stop_timers(self, fragment_ids: list[str]) -> None:
        for fragment_id in fragment_ids:
            _, timer = self._timers.pop(fragment_id, (None, None))
            if timer is not None:
                timer.cancel()


# ----- the server, read from /proc ------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def parent_of(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # gone, or not a process


def children(pid: int) -> list[int]:
    """Every live descendant of a process (the server's training workers), from /proc."""
    by_parent: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            by_parent.setdefault(parent_of(entry), []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in by_parent.get(parent, [])]
        found += frontier
    return found


@dataclass
class ServerReading:
    server_cpu: float
    workers_cpu: dict[int, float]

    @staticmethod
    def now(pid: int) -> ServerReading:
        return ServerReading(cpu_seconds(pid), {c: cpu_seconds(c) for c in children(pid)})


def workers_cpu_between(before: ServerReading, after: ServerReading) -> float:
    """CPU seconds the workers spent between two readings (a worker started since counts whole)."""
    return sum(cpu - before.workers_cpu.get(pid, 0.0) for pid, cpu in after.workers_cpu.items())


async def thread_sampler(pid: int, stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], proc_status("Threads", pid))
        await asyncio.sleep(0.2)


# ----- a class --------------------------------------------------------------------------------


async def open_train_page(url: str, query: str, timeout: float) -> Session:
    session = Session(url)
    await session.open()
    await session.load(TRAIN_PAGE, query, timeout)
    return session


async def latecomer(url: str, stop: asyncio.Event, times: list[float], exceptions: list[str]) -> None:
    """A new session opens the Overview every LATECOMER_EVERY s while the class trains; each
    load is timed from connecting to the end of its script (NaN if it did not end in 120 s)."""
    while not stop.is_set():
        session = Session(url)
        started = time.perf_counter()
        try:
            await session.open()
            await session.load(OVERVIEW_PAGE, "", timeout=120)
            times.append(time.perf_counter() - started)
        except (TimeoutError, OSError, ConnectionClosed):
            times.append(float("nan"))
        exceptions += session.log.exceptions
        await session.close()
        try:
            await asyncio.wait_for(stop.wait(), timeout=LATECOMER_EVERY)
        except TimeoutError:
            pass


async def wait_for_result(session: Session, clicked: float, timeout: float, verbose: bool = False) -> float:
    """Seconds from the click to the result line on the session's page; NaN if none came.

    verbose: print each result as it comes, so a run cut short still tells how far it got."""
    try:
        await session.wait_for(lambda: session.log.result_at is not None or session.log.closed, timeout)
    except TimeoutError:
        pass
    if session.log.result_at is None:
        print(f"no result within {timeout:.0f} s (connection: {session.log.closed or 'open'})", flush=True)
        return float("nan")
    seconds = session.log.result_at - clicked
    if verbose:
        print(f"a result after {seconds:.1f} s", flush=True)
    return seconds


@dataclass
class ClassResult:
    opened: float  # s until every session's Train page had loaded, all opened at once
    times: list[float]  # click to result, per session (NaN: none)
    sessions: list[SessionLog]
    latecomer: list[float]
    latecomer_exceptions: list[str]
    server_cpu: float
    workers_cpu: float
    client_cpu: float
    wall: float
    peak_threads: int
    peak_rss_mb: float

    @property
    def exceptions(self) -> list[str]:
        """Every exception element sent, with the session that got it."""
        return [f"session {i}: {e}" for i, s in enumerate(self.sessions) for e in s.exceptions] + [
            f"latecomer: {e}" for e in self.latecomer_exceptions
        ]


async def press_together(
    url: str, pid: int, queries: list[str], timeout: float = 300.0, verbose: bool = False
) -> ClassResult:
    """One session per query on the Train page; all press Train at once; until every result
    (or `timeout` s after the clicks)."""
    opening = time.perf_counter()
    sessions = await asyncio.gather(*(open_train_page(url, q, timeout) for q in queries))
    opened = time.perf_counter() - opening
    if verbose:
        print(f"all {len(sessions)} Train pages loaded in {opened:.1f} s", flush=True)
    stop, late, late_exceptions, peak = asyncio.Event(), [], [], [proc_status("Threads", pid)]
    sampler = asyncio.create_task(thread_sampler(pid, stop, peak))
    before, client_before, wall_before = ServerReading.now(pid), time.process_time(), time.perf_counter()
    clicks = await asyncio.gather(*(s.click(TRAIN_LABEL) for s in sessions))
    latecomer_task = asyncio.create_task(latecomer(url, stop, late, late_exceptions))
    times = await asyncio.gather(*(wait_for_result(s, c, timeout, verbose) for s, c in zip(sessions, clicks)))
    after, wall = ServerReading.now(pid), time.perf_counter() - wall_before
    client_cpu = time.process_time() - client_before
    stop.set()
    await asyncio.gather(latecomer_task, sampler)
    await asyncio.gather(*(s.close() for s in sessions))
    return ClassResult(
        opened=opened,
        times=list(times),
        sessions=[s.log for s in sessions],
        latecomer=late,
        latecomer_exceptions=late_exceptions,
        server_cpu=after.server_cpu - before.server_cpu,
        workers_cpu=workers_cpu_between(before, after),
        client_cpu=client_cpu,
        wall=wall,
        peak_threads=peak[0],
        peak_rss_mb=proc_status("VmHWM", pid) / 1024,
    )


WARM_UP_QUERY = "steps=100&early=0&seed=4321"  # a short run no student asks for


async def warm_up(url: str, timeout: float) -> None:
    """The server's imports and its training workers' start, before anything is timed: one
    session trains a short run to its result (both workers start and warm up when the first
    page asks for the service, so the other is warm by then too)."""
    session = await open_train_page(url, WARM_UP_QUERY, timeout)
    clicked = await session.click(TRAIN_LABEL)
    await wait_for_result(session, clicked, timeout)
    await session.close()


def class_queries(config: str, sessions: int, same_config: bool) -> list[str]:
    """Each student's query string: distinct seeds (100, 101, ...) or all seed 999."""
    prefix = f"{config}&" if config else ""
    if same_config:
        return [f"{prefix}seed=999"] * sessions
    return [f"{prefix}seed={100 + i}" for i in range(sessions)]


# ----- the report -----------------------------------------------------------------------------


def table_header() -> list[str]:
    return [
        md_row(
            "scenario",
            "done",
            "median s",
            "max s",
            "latecomer idle median / max s (loads)",
            "exceptions",
            "server CPU s",
            "workers CPU s",
            "client CPU s",
            "wall s",
            "server peak RSS MB",
            "server threads (peak)",
        ),
        md_rule("---", *["---:"] * 11),
    ]


def result_row(name: str, result: ClassResult) -> str:
    median, slowest = median_and_max(result.times)
    late_median, late_max = median_and_max(result.latecomer)
    return md_row(
        name,
        f"{finished(result.times)}/{len(result.times)}",
        f"{median:.2f}",
        f"{slowest:.2f}",
        f"{late_median:.2f} / {late_max:.2f} ({len(result.latecomer)})",
        len(result.exceptions),
        f"{result.server_cpu:.1f}",
        f"{result.workers_cpu:.1f}",
        f"{result.client_cpu:.1f}",
        f"{result.wall:.1f}",
        f"{result.peak_rss_mb:.0f}",
        result.peak_threads,
    )


def scenario_name(args) -> str:
    model = args.config or "the page's default model"
    kind = "all the same config" if args.same_config else "distinct seeds"
    return f"{args.sessions} sessions, {model}, {kind}"


def lower_client_priority() -> str:
    """The client below the server (which it started before): returns both nice values."""
    server_nice = os.nice(0)
    client_nice = os.nice(CLIENT_NICE)  # capped at 19 by the kernel
    return f"server nice {server_nice}, client nice {client_nice}"


async def main_async(args) -> None:
    # `timeout` (or a terminal closed) sends SIGTERM: end as Ctrl-C does, so the server stops too.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    cache = tempfile.mkdtemp(prefix="bench-class-ws-")
    log = Path(cache) / "streamlit.log"
    process, url = app_server.start(cache, log=log)
    try:
        print(lower_client_priority(), flush=True)
        await warm_up(url, args.timeout)
        queries = class_queries(args.config, args.sessions, args.same_config)
        print(f"{len(queries)} sessions open the Train page, then press Train", flush=True)
        result = await press_together(url, process.pid, queries, args.timeout, verbose=True)
        print("\n".join(table_header()))
        print(result_row(scenario_name(args), result), flush=True)
        print(f"times s: {fmt_times(sorted(result.times))}")
        print(f"latecomer s: {fmt_times(result.latecomer)}")
        reruns = sum(log.auto_reruns_sent for log in result.sessions)
        print(f"fragment auto-reruns sent by the sessions: {reruns}")
        for exception in result.exceptions:  # the first line: plotly's messages run to pages
            print(f"exception on a page, {exception.splitlines()[0]}")
    finally:
        app_server.stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--same-config", action="store_true", help="every student the same config")
    parser.add_argument("--config", default=HEAVIEST, help='Train page URL settings ("" = defaults)')
    parser.add_argument("--timeout", type=float, default=240.0, help="s after the clicks for the results")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; load average at start: {load_average()}")
    started = time.perf_counter()
    asyncio.run(main_async(args))
    print(f"load average at end: {load_average()}; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
