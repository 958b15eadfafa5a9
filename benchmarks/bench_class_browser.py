"""A class in real browsers: N Chromium sessions press Train together on `streamlit run app.py`.

What issue 7's targets are about, measured as a student sees it (the in-process benchmark,
bench_class.py, measures the service alone). One headless Chromium, one browser context per
student (so one Streamlit session each), against a fresh server with an empty result cache:

1. alone: one student trains the page's default model (repeated with other seeds; median);
2. class, distinct seeds: N students on Train with the heaviest default (MoG prior + MoG
   posterior, M = 10, σ = 0.1), each its own seed, press Train within a second;
3. class, all the same config: N students, one config (not cached yet), press Train together.

For each, the time from the first click to the moment each page shows its result ("training
took"), median and max; meanwhile a latecomer opens the Overview page every few seconds and we
time it until the page is idle (Streamlit's running indicator gone for 1 s, the 1 s not counted);
the server's thread count is sampled. The browsers run on the same machine as the server, as they
did when the issue measured the old app: their rendering competes for the same cores.

    python -m benchmarks.bench_class_browser             # N = 20
    python -m benchmarks.bench_class_browser --sessions 5 --scenarios same
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

from scripts import app_server
from vae_core.export import CHROMIUM_ARGS
from vae_core.serving import default_workers

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}
HEAVIEST = "prior=mog&posterior=mog&M=10&noise=0.1"
DONE_TEXT = "training took"  # the result line every finished run shows on the Train page
ALONE_SEEDS = tuple(range(11, 31))  # not pre-trained (the presets have seeds 0–4)
SCENARIOS = ("alone", "distinct", "same")
QUIET_FOR = 1.0  # s the running indicator must stay away before a page counts as idle


def server_threads(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def wait_idle(page, timeout: float = 300.0) -> float:
    """Seconds until the app has run (an h1 is up and the running widget stayed away QUIET_FOR)."""
    started = time.perf_counter()
    await page.wait_for_selector("h1", timeout=timeout * 1000)
    status = page.locator('[data-testid="stStatusWidget"]')
    quiet_since = None
    while time.perf_counter() - started < timeout:
        if await status.count() == 0:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since >= QUIET_FOR:
                return quiet_since - started
        else:
            quiet_since = None
        await asyncio.sleep(0.05)
    return float("nan")


async def open_train_page(browser, url: str, query: str):
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto(f"{url}/train?{query}", timeout=300_000)
    await wait_idle(page)
    return page


async def time_to_result(page, clicked: float, timeout: float) -> float:
    try:
        await page.get_by_text(DONE_TEXT).first.wait_for(timeout=timeout * 1000)
    except Exception:
        # What the student saw instead, for the report (a lost click, an error, a stuck page).
        shot = Path(tempfile.gettempdir()) / f"bench-class-timeout-{id(page)}.png"
        await page.screenshot(path=shot, full_page=True)
        print(f"no result within {timeout:.0f} s; the page: {shot}", flush=True)
        return float("nan")
    return time.perf_counter() - clicked


async def latecomer(browser, url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """Opens the Overview page in a new context every 3 s while the class trains."""
    while not stop.is_set():
        context = await browser.new_context(viewport=VIEWPORT)
        page = await context.new_page()
        started = time.perf_counter()
        try:
            await page.goto(url, timeout=120_000)
            loaded = time.perf_counter() - started
            latencies.append(loaded + await wait_idle(page, timeout=120))
        except Exception:
            latencies.append(float("nan"))
        await context.close()
        try:
            await asyncio.wait_for(stop.wait(), timeout=3.0)
        except TimeoutError:
            pass


async def thread_sampler(pid: int, stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], server_threads(pid))
        await asyncio.sleep(0.2)


async def press_together(browser, url: str, pid: int, queries: list[str], timeout: float) -> dict:
    pages = await asyncio.gather(*(open_train_page(browser, url, q) for q in queries))
    stop, latencies, peak = asyncio.Event(), [], [server_threads(pid)]
    sampler = asyncio.create_task(thread_sampler(pid, stop, peak))
    clicked = time.perf_counter()
    await asyncio.gather(*(p.get_by_role("button", name="Train", exact=True).click() for p in pages))
    clicked_spread = time.perf_counter() - clicked
    late = asyncio.create_task(latecomer(browser, url, stop, latencies))
    times = await asyncio.gather(*(time_to_result(p, clicked, timeout) for p in pages))
    stop.set()
    await asyncio.gather(late, sampler)
    for page in pages:
        await page.context.close()
    done = [t for t in times if t == t]
    late_done = [t for t in latencies if t == t]
    return {
        "done": f"{len(done)}/{len(times)}",
        "median": statistics.median(done) if done else float("nan"),
        "max": max(done) if done else float("nan"),
        "clicks_within": clicked_spread,
        "late_median": statistics.median(late_done) if late_done else float("nan"),
        "late_max": max(late_done) if late_done else float("nan"),
        "late_count": len(latencies),
        "threads": peak[0],
    }


def row(name: str, result: dict) -> str:
    return (
        f"| {name} | {result['done']} | {result['median']:.1f} | {result['max']:.1f} | "
        f"{result['late_median']:.2f} / {result['late_max']:.2f} ({result['late_count']}) | "
        f"{result['threads']} |"
    )


async def main_async(args) -> None:
    cache = tempfile.mkdtemp(prefix="bench-class-browser-")
    process, url = app_server.start(cache)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Warm the server (imports, the service's worker) the way the first visitor does.
            warm = await open_train_page(browser, url, "")
            await warm.context.close()
            print(
                "| scenario | done | median s | max s | latecomer page idle median / max s (loads) "
                "| server threads (peak) |"
            )
            print("|---|---|---|---|---|---|")
            alone = []
            for seed in ALONE_SEEDS[: args.alone if "alone" in args.scenarios else 0]:
                page = await open_train_page(browser, url, f"seed={seed}")
                clicked = time.perf_counter()
                await page.get_by_role("button", name="Train", exact=True).click()
                alone.append(await time_to_result(page, clicked, args.timeout))
                await page.context.close()
            if alone:
                print(
                    f"| alone, the default model (MFG-VAE, σ = 0.1), seeds {ALONE_SEEDS[0]}–"
                    f"{ALONE_SEEDS[args.alone - 1]} | "
                    f"{sum(t == t for t in alone)}/{args.alone} | {statistics.median(alone):.2f} | "
                    f"{max(alone):.2f} | – | {server_threads(process.pid)} |",
                    flush=True,
                )
            n = args.sessions
            if "distinct" in args.scenarios:
                distinct = [f"{HEAVIEST}&seed={100 + i}" for i in range(n)]
                result = await press_together(browser, url, process.pid, distinct, args.timeout)
                print(row(f"{n} students, heaviest default, distinct seeds", result), flush=True)
            if "same" in args.scenarios:
                same = [f"{HEAVIEST}&seed=999"] * n
                result = await press_together(browser, url, process.pid, same, args.timeout)
                print(row(f"{n} students, heaviest default, all the same config", result), flush=True)
            await browser.close()
    finally:
        app_server.stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--alone", type=int, default=3, help="lone runs of the default model")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="which to run (default: all)",
    )
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}; load average at start: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"training workers: {default_workers()}"
    )
    started = time.perf_counter()
    asyncio.run(main_async(args))
    print(
        f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{time.perf_counter() - started:.0f} s in all"
    )


if __name__ == "__main__":
    main()
