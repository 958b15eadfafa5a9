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

from benchmarks.common import finished, load_average, md_row, md_rule, median_and_max, proc_status
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
        peak[0] = max(peak[0], proc_status("Threads", pid))
        await asyncio.sleep(0.2)


async def press_together(browser, url: str, pid: int, queries: list[str], timeout: float) -> dict:
    pages = await asyncio.gather(*(open_train_page(browser, url, q) for q in queries))
    stop, latencies, peak = asyncio.Event(), [], [proc_status("Threads", pid)]
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
    median, slowest = median_and_max(times)
    late_median, late_max = median_and_max(latencies)
    return {
        "done": f"{finished(times)}/{len(times)}",
        "median": median,
        "max": slowest,
        "clicks_within": clicked_spread,
        "late_median": late_median,
        "late_max": late_max,
        "late_count": len(latencies),
        "threads": peak[0],
    }


def table_header() -> list[str]:
    return [
        md_row(
            "scenario",
            "done",
            "median s",
            "max s",
            "latecomer page idle median / max s (loads)",
            "server threads (peak)",
        ),
        md_rule(*["---"] * 6),
    ]


def scenario_row(name: str, result: dict) -> str:
    return md_row(
        name,
        result["done"],
        f"{result['median']:.1f}",
        f"{result['max']:.1f}",
        f"{result['late_median']:.2f} / {result['late_max']:.2f} ({result['late_count']})",
        result["threads"],
    )


async def train_alone(browser, url: str, seeds: tuple[int, ...], timeout: float) -> list[float]:
    """One student at a time: seconds from the click to the result, one per seed."""
    times = []
    for seed in seeds:
        page = await open_train_page(browser, url, f"seed={seed}")
        clicked = time.perf_counter()
        await page.get_by_role("button", name="Train", exact=True).click()
        times.append(await time_to_result(page, clicked, timeout))
        await page.context.close()
    return times


def alone_row(seeds: tuple[int, ...], times: list[float], threads: int) -> str:
    return md_row(
        f"alone, the default model (MFG-VAE, σ = 0.1), seeds {seeds[0]}–{seeds[-1]}",
        f"{finished(times)}/{len(seeds)}",
        f"{statistics.median(times):.2f}",
        f"{max(times):.2f}",
        "–",
        threads,
    )


async def run_scenarios(browser, url: str, pid: int, args) -> None:
    """Each scenario asked for, its table row printed as soon as it is measured."""
    seeds = ALONE_SEEDS[: args.alone] if "alone" in args.scenarios else ()
    if seeds:
        times = await train_alone(browser, url, seeds, args.timeout)
        print(alone_row(seeds, times, proc_status("Threads", pid)), flush=True)
    n = args.sessions
    if "distinct" in args.scenarios:
        distinct = [f"{HEAVIEST}&seed={100 + i}" for i in range(n)]
        result = await press_together(browser, url, pid, distinct, args.timeout)
        print(scenario_row(f"{n} students, heaviest default, distinct seeds", result), flush=True)
    if "same" in args.scenarios:
        same = [f"{HEAVIEST}&seed=999"] * n
        result = await press_together(browser, url, pid, same, args.timeout)
        print(scenario_row(f"{n} students, heaviest default, all the same config", result), flush=True)


async def main_async(args) -> None:
    cache = tempfile.mkdtemp(prefix="bench-class-browser-")
    process, url = app_server.start(cache)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Warm the server (imports, the service's worker) the way the first visitor does.
            warm = await open_train_page(browser, url, "")
            await warm.context.close()
            print("\n".join(table_header()))
            await run_scenarios(browser, url, process.pid, args)
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
        f"cores: {os.cpu_count()}; load average at start: {load_average()}; "
        f"training workers: {default_workers()}"
    )
    started = time.perf_counter()
    asyncio.run(main_async(args))
    print(f"load average at end: {load_average()}; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
