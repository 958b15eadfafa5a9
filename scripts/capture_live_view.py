"""Capture the README's animated GIF of the live view from the running app.

Start the app first (`bash scripts/run.sh --server.port 8501`), then run this script from the
repository root (`python -m scripts.capture_live_view`): it opens the Train page in headless
Chromium, presses Train on a long run that is not pre-trained, takes a screenshot of the live
view every 0.45 s while the model learns, presses Pause, and writes assets/live_view.gif
(Pillow, 128 colours per frame) and a still, assets/live_view.png. Every frame is a real
screenshot of the app; nothing is drawn by this script.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from playwright import sync_api

from vae_core.export import CHROMIUM_ARGS

ASSETS = Path(__file__).resolve().parent.parent / "assets"
VIEWPORT = {"width": 1400, "height": 1250}  # the controls and the four charts in one view
FRAME_MS = 450


def capture(url: str, frames: int, seed: int) -> tuple[list[Image.Image], tuple[int, int, int, int]]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(f"{url}/train?seed={seed}&steps=10000&early=0&posterior=mog")
        page.get_by_role("button", name="Train", exact=True).click(timeout=120_000)
        page.get_by_role("button", name="Pause").wait_for(timeout=120_000)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= 4",
            timeout=60_000,
        )
        stop = page.get_by_role("button", name="Stop")
        stop.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(1500)
        top = int(max(0, stop.bounding_box()["y"] - 10))
        shots = []
        for _ in range(frames):
            shots.append(Image.open(io.BytesIO(page.screenshot())))
            page.wait_for_timeout(FRAME_MS)
        page.get_by_role("button", name="Pause").click()
        page.get_by_role("button", name="Resume").wait_for(timeout=30_000)
        page.mouse.move(5, 5)  # no tooltip in the paused frames
        page.wait_for_timeout(1500)
        shots += [Image.open(io.BytesIO(page.screenshot())) for _ in range(4)]
        page.get_by_role("button", name="Stop").click()
        browser.close()
    return shots, (300, top, 1340, min(VIEWPORT["height"], top + 940))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--seed", type=int, default=23, help="a seed that is not pre-trained")
    args = parser.parse_args()
    shots, crop = capture(args.url, args.frames, args.seed)
    frames = [shot.convert("RGB").crop(crop) for shot in shots]
    frames[-6].quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(
        ASSETS / "live_view.png", optimize=True
    )
    small = [f.resize((int(f.width * 0.7), int(f.height * 0.7)), Image.LANCZOS) for f in frames]
    # A palette per frame (octree keeps small areas of colour, e.g. the olive p_θ(z|y) line).
    paletted = [f.quantize(colors=128, method=Image.Quantize.FASTOCTREE) for f in small]
    durations = [FRAME_MS] * (len(paletted) - 4) + [700] * 3 + [2500]  # hold on the paused view
    paletted[0].save(
        ASSETS / "live_view.gif", save_all=True, append_images=paletted[1:], duration=durations, loop=0
    )


if __name__ == "__main__":
    main()
