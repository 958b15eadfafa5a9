"""dashboard.charts without a browser: Streamlit's selection events, read as the chosen y; the
copies of a figure shared between sessions."""

import threading

from dashboard.charts import copy_figure, y_from_selection
from vae_core.plots.live import truth_heatmap_figure


def test_a_click_or_a_drag_chooses_y():
    assert y_from_selection({"points": [{"x": 0.12, "y": 3.1, "curve_number": 0}]}) == 0.12
    assert y_from_selection({"points": [], "box": [{"x": [0.3, 0.1], "y": [0, 1]}]}) == 0.2
    for nothing in (
        None,
        {},
        {"points": [], "box": [], "lasso": []},
        {"points": [{"x": "a"}]},
        {"points": [{"x": float("nan")}]},
    ):
        assert y_from_selection(nothing) is None


def test_sessions_copy_one_shared_figure_at_once():
    # Figures are cached and shared between sessions; go.Figure(fig) from 8 threads at once
    # failed on most copies of this one (plotly's copy constructor is not thread-safe).
    shared = truth_heatmap_figure(0.1)
    errors, copies = [], []

    def copy_many():
        for _ in range(20):
            try:
                copies.append(copy_figure(shared))
            except ValueError as error:
                errors.append(str(error).splitlines()[0])

    threads = [threading.Thread(target=copy_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [trace.type for trace in copies[0].data] == [trace.type for trace in shared.data]
