"""End to end: the real app under `streamlit run`, driven by headless Chromium through Playwright.

Visits every page, trains a small model on the train page and downloads one figure as PNG.
Full-page screenshots go to $E2E_SCREENSHOT_DIR (default: this test's tmp_path).
"""

from __future__ import annotations

import os
import re
import struct
import time
import zipfile
from pathlib import Path

import pytest

from scripts import app_server
from vae_core.export import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1400, "height": 900}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# URL paths st.navigation derives from the page file names; the default page is "/".
PAGES = {"overview": "", "ground_truth": "ground_truth", "train": "train", "compare": "compare"}
PAGE_FILES = {
    Path(path).stem: path  # as app.py lists them: {"train": "views/train.py", ...}
    for path in re.findall(r'st\.Page\(\s*"([^"]+\.py)"', (REPO / "app.py").read_text())
}
TITLES = {
    "overview": "VAEs with",
    "ground_truth": "Ground truth",
    "train": "Train & explore",
    "compare": "Compare",
}  # how each page's h1 begins (a wrong path shows the overview)
SMALL_STEPS = 200

if not CHROMIUM.exists():
    pytest.skip(
        "the browser test needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture
def server(tmp_path):
    """`streamlit run app.py` on a free port with an empty result cache; stopped at teardown."""
    log = tmp_path / "streamlit.log"
    try:
        process, url = app_server.start(tmp_path / "cache", log=log, timeout=30)
    except app_server.ServerDidNotStart as error:
        pytest.fail(str(error))
    try:
        yield url
    finally:
        app_server.stop(process)


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    directory = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
            yield context.new_page()
        finally:
            browser.close()


def wait_until_idle(page, timeout: float = 60_000) -> None:
    """The script has run: the app is up and Streamlit's "Running…" widget is gone."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_selector("h1", timeout=timeout)
    # Streamlit shows the widget only after a short delay, so "absent once" proves nothing:
    # wait until it has stayed away for a second.
    status = page.locator('[data-testid="stStatusWidget"]')
    deadline = time.monotonic() + timeout / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        if status.count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(100)
    pytest.fail(f"the app was still running after {timeout / 1000:.0f} s")


def assert_no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"exception on {where}: {errors.first.inner_text()}"


def wait_for_charts(page, count: int = 0, timeout: float = 30_000) -> None:
    """At least `count` Plotly charts on the page, and every one of them drawn."""
    page.wait_for_function(
        """n => {
            const charts = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'));
            return charts.length >= n && charts.every(c => c.querySelector('.main-svg'));
        }""",
        arg=count,
        timeout=timeout,
    )
    page.wait_for_timeout(500)  # let plotly finish its first layout before a screenshot


def screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls an inner container, so `full_page` alone would capture
    one viewport; the viewport is stretched to the content's height for the shot instead."""
    height = page.evaluate(
        """() => Math.max(document.documentElement.scrollHeight, ...Array.from(
            document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]'),
            e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 40, 16_000)})
    page.wait_for_timeout(400)  # charts re-layout on resize
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


def png_width(data: bytes) -> int:
    assert data[12:16] == b"IHDR", "the first PNG chunk must be IHDR"
    return struct.unpack(">I", data[16:20])[0]


def test_every_page_and_a_training_run(server, page, screenshot_dir, capsys):
    started = time.perf_counter()

    for name, path in PAGES.items():
        assert (REPO / PAGE_FILES[name]).exists(), f"app.py lists {PAGE_FILES[name]}, which is missing"
        page.goto(f"{server}/{path}")
        wait_until_idle(page)
        wait_for_charts(page, 4 if name == "ground_truth" else 0)
        assert_no_exception(page, f"/{path}")
        assert page.locator("h1").first.inner_text().startswith(TITLES[name]), f"/{path}"
        screenshot(page, screenshot_dir / f"{name}.png")

    # The train page with a small config from the URL (read on a session's first visit).
    page.goto(f"{server}/train?steps={SMALL_STEPS}")
    wait_until_idle(page)
    assert_no_exception(page, "/train")
    page.get_by_role("button", name="Train", exact=True).click()
    # The run's status: a success, or a warning when it was still improving at its step budget.
    success = page.locator(
        '[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]'
    ).filter(has_text="training took")
    success.wait_for(timeout=60_000)
    assert f"{SMALL_STEPS} steps" in success.inner_text()
    wait_until_idle(page)
    wait_for_charts(page, 4)  # the live view; the detail tabs open on the metrics table
    assert_no_exception(page, "/train after training")
    screenshot(page, screenshot_dir / "train_trained.png")

    # A detail tab builds its figure when opened (and only then).
    page.get_by_role("tab", name="Decoder").click()
    wait_until_idle(page)
    wait_for_charts(page, 5)
    assert "details=Decoder" in page.url
    download_button = page.get_by_role("button", name="Download PNG").first
    download_button.scroll_into_view_if_needed()
    with page.expect_download(timeout=60_000) as download_info:
        download_button.click()
    download = download_info.value
    data = Path(download.path()).read_bytes()
    assert data.startswith(PNG_SIGNATURE), data[:16]
    assert len(data) > 10_000, f"a {len(data)}-byte PNG is too small to be a figure"
    assert png_width(data) > 500
    assert download.suggested_filename.endswith(".png")
    assert_no_exception(page, "/train after the download")

    # The ZIP holds every figure, built at the click though the tabs never drew them.
    zip_button = page.get_by_role("button", name="Download all figures (ZIP)")
    zip_button.scroll_into_view_if_needed()
    with page.expect_download(timeout=120_000) as download_info:
        zip_button.click()
    with zipfile.ZipFile(download_info.value.path()) as archive:
        names = sorted(archive.namelist())
        assert all(archive.read(name).startswith(PNG_SIGNATURE) for name in names), names
    expected = ["decoder", "encoder", "generated_marginal", "posteriors", "prior", "training_curves"]
    stem = f"gaussian-prior_gaussian-posterior_sigma0.1_seed0_{SMALL_STEPS}steps"  # named for its run
    assert names == [f"{stem}_{name}.png" for name in [*expected, "training_snapshots"]], names
    assert_no_exception(page, "/train after the ZIP")

    # Lecture mode from the URL, as a lecturer would open it.
    page.goto(f"{server}/train?steps={SMALL_STEPS}&lecture=1")
    wait_until_idle(page)
    wait_for_charts(page, 4)
    assert_no_exception(page, "/train in lecture mode")
    screenshot(page, screenshot_dir / "train_lecture.png")

    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n  browser test: {seconds:.1f} s; screenshots in {screenshot_dir}", end="")


def test_a_shared_link_as_the_first_request(server, page, screenshot_dir):
    """A shared link is often the first thing a fresh server is asked for (a lecture's slides)."""
    page.goto(f"{server}/ground_truth?noise=0.03")
    wait_until_idle(page)
    wait_for_charts(page, 4)
    assert_no_exception(page, "/ground_truth as the first request")
    screenshot(page, screenshot_dir / "ground_truth_first_request.png")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    # Streamlit runs a lone page file on a fresh server's first request when a `pages/` folder
    # sits beside app.py (legacy multipage mode, streamlit#9624): the screens live in views/, so
    # the page must have run inside app.py's navigation (its sidebar, its lecture toggle).
    assert "Lecture mode" in sidebar
    assert "Ground truth" in sidebar and "app" not in sidebar.split()
    assert "0.03" in page.locator('[data-testid="stSlider"]').first.inner_text()
