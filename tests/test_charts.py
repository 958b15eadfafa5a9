"""dashboard.charts without a browser: Streamlit's selection events, read as the chosen y."""

from dashboard.charts import y_from_selection


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
