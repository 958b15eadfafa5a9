"""The live view in the browser: a long run trains while at least three charts change; Pause
stops the step counter, Step advances it, Resume continues; a click on p(y) chooses y; and
Pause / Resume obey one plain click each, ten times in a row, while the view redraws.
Screenshots go to $E2E_SCREENSHOT_DIR (default: this test's tmp_path): look at them.
"""

from __future__ import annotations

import re
import time

import pytest
from test_e2e_browser import (  # noqa: F401  (server, page and screenshot_dir are fixtures)
    assert_no_exception,
    page,
    screenshot,
    screenshot_dir,
    server,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

LONG_STEPS = 10000  # long enough to pause, step and resume before it ends, even on a fast machine
STEP_TEXT = re.compile(r"step (\d+) of (\d+)")
PAUSED_TEXT = re.compile(r"Paused at step (\d+) of (\d+)")
OBEYED_WITHIN = 30_000  # ms for the page to show a click's effect (the click itself is never repeated)


def chart_pictures(tab) -> list[str]:
    """The drawn SVG of every chart: if it differs between two looks, the chart was redrawn
    with other data (an element screenshot would wait for a redrawing chart to settle)."""
    return tab.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
        .map(c => Array.from(c.querySelectorAll('svg.main-svg')).map(s => s.innerHTML).join(''))""")


def current_step(tab) -> int:
    """The step the page shows (the live controls' counter)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = STEP_TEXT.search(tab.locator('[data-testid="stMain"]').inner_text())
        if found:
            return int(found.group(1))
        tab.wait_for_timeout(200)
    pytest.fail("no step counter on the page")


def wait_for_step_change(tab, than: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = current_step(tab)
        if step != than:
            return step
        tab.wait_for_timeout(200)
    pytest.fail(f"the step counter stayed at {than}")


def click_once(tab, name: str) -> None:
    """One plain click at the centre of a button, as a student's mouse does: no retry, and
    none of Playwright's waiting for the element to be stable (the buttons that act on a run
    are drawn outside the fragment that redraws the view, so they are never replaced)."""
    button = tab.get_by_role("button", name=name, exact=True)
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def paused_step(tab) -> int:
    """Wait until the step counter says the run is paused; the step it paused at."""
    counter = tab.locator('[data-testid="stMain"]').get_by_text(PAUSED_TEXT)
    counter.wait_for(timeout=OBEYED_WITHIN)
    return int(PAUSED_TEXT.search(counter.inner_text()).group(1))


def pause_and_resume_ten_times(tab) -> None:
    """Pause, Resume, Pause, ... each one click, each obeyed: a pause stops the counter, a
    resume continues it from there."""
    for click in range(10):
        if click % 2 == 0:
            click_once(tab, "Pause")
            at = paused_step(tab)
            tab.get_by_role("button", name="Resume", exact=True).wait_for(timeout=OBEYED_WITHIN)
        else:
            click_once(tab, "Resume")
            tab.get_by_role("button", name="Pause", exact=True).wait_for(timeout=OBEYED_WITHIN)
            assert wait_for_step_change(tab, at) > at, f"click {click + 1}: Resume did not continue"


def start_training(tab, url: str, seed: int) -> None:
    """Train a long run and wait for its first steps (a fresh server's workers start first)."""
    tab.goto(f"{url}/train?steps={LONG_STEPS}&early=0&seed={seed}")
    wait_until_idle(tab)
    tab.get_by_role("button", name="Train", exact=True).click()
    tab.get_by_role("button", name="Pause").wait_for(timeout=120_000)
    wait_for_step_change(tab, 0, timeout=120)


def test_live_view_pause_step_resume(server, page, screenshot_dir):  # noqa: F811
    start_training(page, server, seed=12)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length >= 4", timeout=60_000
    )
    before = chart_pictures(page)
    page.wait_for_timeout(5000)  # the panel redraws every 0.25 s, every 1 s while a class trains
    after = chart_pictures(page)
    changed = sum(a != b for a, b in zip(before, after, strict=False))
    assert changed >= 3, f"only {changed} of {len(after)} charts changed while training"
    assert_no_exception(page, "/train while training live")
    screenshot(page, screenshot_dir / "live_training.png")

    click_once(page, "Pause")
    paused_at = paused_step(page)
    page.wait_for_timeout(2000)
    assert current_step(page) == paused_at, "the step counter moved while paused"
    screenshot(page, screenshot_dir / "live_paused.png")

    click_once(page, "Step")
    stepped = wait_for_step_change(page, paused_at)
    page.wait_for_timeout(2000)
    assert current_step(page) == paused_at + 10, (paused_at, current_step(page))
    assert stepped > paused_at

    # Probe a y by clicking on p(y) (the second chart), while paused.
    chart = page.locator('[data-testid="stPlotlyChart"]').nth(1)
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()
    x, y = box["x"] + 0.75 * box["width"], box["y"] + 0.5 * box["height"]
    page.mouse.move(x - 5, y, steps=4)
    page.wait_for_timeout(300)
    page.mouse.move(x, y, steps=2)
    page.wait_for_timeout(300)
    page.mouse.down()
    page.mouse.up()
    page.get_by_text(re.compile(r"Posterior at y = (?!0\.1$)")).wait_for(timeout=30_000)

    click_once(page, "Resume")
    resumed = wait_for_step_change(page, paused_at + 10)
    assert resumed > paused_at + 10, "Resume must continue from the paused state, not restart"
    assert_no_exception(page, "/train after resume")
    screenshot(page, screenshot_dir / "live_resumed.png")

    pause_and_resume_ten_times(page)
    assert_no_exception(page, "/train after ten clicks on Pause and Resume")


def test_a_reload_mid_training_shows_the_run_again(server, page, screenshot_dir):  # noqa: F811
    """A reload is a new browser session: the page finds the run of its URL's config and draws
    it (progress, live view, Pause), without a second Train; the run outlives the old tab."""
    start_training(page, server, seed=14)
    before = current_step(page)
    page.reload()
    wait_until_idle(page)
    page.get_by_role("button", name="Pause", exact=True).wait_for(timeout=OBEYED_WITHIN)
    main = page.locator('[data-testid="stMain"]')
    assert "Not trained yet" not in main.inner_text()
    assert page.get_by_role("button", name="Train", exact=True).count() == 0
    after = wait_for_step_change(page, before)
    assert after > before, "the reloaded page shows a run that started again"
    screenshot(page, screenshot_dir / "live_reloaded.png")
    # The old tab's request is released after scheduler.GONE_GRACE (10 s): the run trains on.
    page.wait_for_timeout(13_000)
    later = current_step(page)
    assert wait_for_step_change(page, later) > later, "the run stopped when the old tab was released"
    assert_no_exception(page, "/train after a reload mid-training")
    click_once(page, "Stop")
