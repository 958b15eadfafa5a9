"""The light class client (benchmarks/bench_class_ws.py) against the real `streamlit run app.py`:
three sessions press Train over the websocket and each gets its own result on its page.

Checks the client's protocol (page load, button by widget id, fragment auto-reruns) and the
app's behaviour under it; how fast is for the benchmark, not for this test.
"""

from __future__ import annotations

import asyncio

import pytest

from benchmarks import bench_class_ws
from benchmarks.common import finished
from scripts import app_server

STEPS = 200  # short: the result is what is checked, not the training
SESSIONS = 3
TIMEOUT = 120.0  # s for each result: a bound on a stuck test, not a speed check


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-class-ws")
    process, url = app_server.start(folder / "cache", log=folder / "streamlit.log")
    try:
        yield process, url
    finally:
        app_server.stop(process)


@pytest.mark.slow
def test_three_sessions_train_to_their_results(server):
    process, url = server
    queries = [f"steps={STEPS}&early=0&seed={seed}" for seed in (1, 2, 3)]
    result = asyncio.run(bench_class_ws.press_together(url, process.pid, queries, timeout=TIMEOUT))

    assert finished(result.times) == SESSIONS, result.times
    assert result.exceptions == []
    for query, log in zip(queries, result.sessions):
        # Only the button's trigger was sent: the server must still train the URL's config.
        assert f"{STEPS} steps" in log.result_text, log.result_text
        assert log.closed is None, log.closed
        # The progress fragment's reruns were answered (the page reran itself when done).
        assert log.auto_reruns_sent > 0, query
    # The latecomer loaded its page at least once while the class trained.
    assert finished(result.latecomer) >= 1, result.latecomer
    assert result.server_cpu > 0 and result.peak_threads > 0
