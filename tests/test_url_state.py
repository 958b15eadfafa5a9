"""dashboard/url_state.py: what a link's parameters become, and what people are told when one
is unusable (plain words, never Python's, and never a whole 20,000-character value)."""

from __future__ import annotations

import pytest
from test_app_pages import (  # noqa: F401
    assert_no_exception,
    chart_named,
    charts,
    new_session,
    open_page,
    train_calls,
    warnings_text,
)

from dashboard.url_state import MAX_Y_VALUES, SHOWN_CHARS, Param, parse_y_values, shorten, url_warning
from vae_core.paper import SHOWN_Y_VALUES

SEED = Param(0, low=0, high=9999)
NOISE = Param(0.1, choices=(0.03, 0.1))
HUGE = "9" * 20_000


def reason(param: Param, text: str) -> str:
    with pytest.raises(ValueError) as error:
        param.parse(text)
    return str(error.value)


@pytest.mark.parametrize(
    ("param", "text", "expected"),
    [
        (SEED, "1e99", "must be a whole number"),
        (SEED, "1.5", "must be a whole number"),
        (SEED, "1_000", "must be a whole number"),
        (SEED, "", "must be a whole number"),
        (SEED, HUGE, "must be a whole number of at most 18 digits"),
        (SEED, "-3", "must be between 0 and 9999"),
        (NOISE, "banana", "must be a number"),
        (NOISE, "inf", "must be a finite number"),
        (NOISE, "0.2", "must be one of 0.03, 0.1"),
        (Param(True), "maybe", "must be 0 or 1"),
        (Param("a", choices=("a", "b")), "c", "must be one of a, b"),
    ],
)
def test_an_unusable_value_gets_a_plain_reason(param, text, expected):
    assert reason(param, text) == expected


def test_usable_values_parse_to_their_type():
    assert SEED.parse(" 42 ") == 42 and SEED.parse("+7") == 7
    assert NOISE.parse("0.03") == 0.03
    assert Param(False).parse("TRUE") is True and Param(True).parse("0") is False


def test_a_warning_names_the_parameter_and_quotes_the_value_short():
    assert url_warning("seed", "1e99", "must be a whole number", 0) == (
        "URL parameter `seed` ignored: seed must be a whole number, got `1e99`. Using the default 0."
    )
    long = url_warning("seed", HUGE, reason(SEED, HUGE), 0)
    assert f"got `{'9' * SHOWN_CHARS}…`" in long
    assert len(long) < 200, "a long value is not echoed whole"


def test_shorten_keeps_short_text_and_the_value_inside_its_code_span():
    assert shorten("abc") == "abc"
    assert shorten("x" * SHOWN_CHARS) == "x" * SHOWN_CHARS
    assert shorten("x" * (SHOWN_CHARS + 1)) == "x" * SHOWN_CHARS + "…"
    assert shorten("a`b") == "a'b"


def test_unusable_y_values_are_named_short_and_few():
    values, warning = parse_y_values(f"1, {HUGE}, a, b, c, d, e, f")
    assert values == [1.0]
    assert warning.startswith(f"Ignored y values {'9' * SHOWN_CHARS}…, a, b, c, d and 2 more:")
    assert len(warning) < 200
    values, warning = parse_y_values("")
    assert values == list(SHOWN_Y_VALUES) and "Using the paper's y" in warning


def test_a_link_with_a_huge_and_a_bad_value_warns_plainly(train_calls):  # noqa: F811
    at = open_page(new_session(), "train & explore", {"seed": "1e99", "steps": HUGE, "y": f"1, {HUGE}"})
    text = warnings_text(at)
    assert "seed must be a whole number, got `1e99`" in text, text
    assert f"steps must be a whole number of at most 18 digits, got `{'9' * SHOWN_CHARS}…`" in text
    assert HUGE[: SHOWN_CHARS + 1] not in text, "a huge value is echoed whole"
    assert f"Ignored y values {'9' * SHOWN_CHARS}…:" in text
    assert "invalid literal" not in text and "Exceeds the limit" not in text
    assert at.number_input(key="w.train.seed").value == 0
    assert not train_calls


def test_y_values_beyond_the_figures_room_are_named_not_dropped_silently():
    typed = ", ".join(str(y) for y in range(-4, 6))  # ten values
    values, warning = parse_y_values(typed)
    assert values == [float(y) for y in range(-4, 4)]
    assert (
        warning
        == f"Drawing the first {MAX_Y_VALUES} y values only (at most {MAX_Y_VALUES} fit); not drawn: 4, 5."
    )
    values, warning = parse_y_values(", ".join(str(y) for y in range(MAX_Y_VALUES)))
    assert len(values) == MAX_Y_VALUES and warning == ""


def test_the_ground_truth_page_draws_eight_typed_y_values_and_names_the_ninth(train_calls):  # noqa: F811
    at = open_page(new_session(), "ground truth")
    at.text_input(key="w.truth.y").set_value("1, 0.2, 0.05, -3, 0.1, 0.15, -0.05, 0.3, 0.25").run()
    assert_no_exception(at)
    assert "not drawn: 0.25." in warnings_text(at)
    slices = chart_named(charts(at), "true_posterior_slices_sigma0.1")
    assert len(slices["data"]) == MAX_Y_VALUES
    assert [a["text"] for a in slices["layout"]["annotations"]][-1] == "y = 0.3"
