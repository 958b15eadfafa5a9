"""Page settings kept in the URL (a copied link shares the exact view) and in widget state.

Each setting is a `Param`; its widget's key is `widget_key(page, name)`, and the URL parameter is
`name` itself (shared links depend on these names: never rename one).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import streamlit as st

from vae_core.paper import SHOWN_Y_VALUES

STATE_PREFIX = "w."  # widget keys that must survive page switches (see keep_widget_state)
LECTURE = "lecture"  # the URL parameter (and the app's widget name) of lecture mode
MAX_DIGITS = 18  # a whole number in a URL (every range of the app is far smaller)
SHOWN_CHARS = 40  # characters of a rejected value that a message quotes
MAX_Y_VALUES = 8  # y values the posterior figures draw: two rows of four panels
SHOWN_BAD_Y = 5  # rejected y values a warning names (then "and N more")


@dataclass(frozen=True)
class Param:
    """A page setting kept in the URL: a default, and either choices or a [low, high] range."""

    default: object
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None

    def parse(self, text: str):
        """The value of a URL string, or raise ValueError with a plain reason for the user
        ("must be a whole number"), never Python's own words ("invalid literal for int()")."""
        kind = type(self.default)
        if kind is bool:
            if text.lower() not in ("0", "1", "true", "false"):
                raise ValueError("must be 0 or 1")
            value = text.lower() in ("1", "true")
        elif kind is int:
            value = _whole_number(text)
        elif kind is float:
            value = _finite_number(text)
        else:
            value = text
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(map(str, self.choices))}")
        if self.low is not None and not self.low <= value <= self.high:
            raise ValueError(f"must be between {self.low:g} and {self.high:g}")
        return value


def _whole_number(text: str) -> int:
    # Digits only: int() also takes "1_000" and " 7 ", and its errors speak Python
    # ("invalid literal for int() with base 10", "Exceeds the limit (4300 digits)").
    digits = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", digits):
        raise ValueError("must be a whole number")
    if len(digits.lstrip("+-")) > MAX_DIGITS:
        raise ValueError(f"must be a whole number of at most {MAX_DIGITS} digits")
    return int(digits)


def _finite_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """A value as a message may quote it: a 20,000-character URL value must not fill the page.
    Backticks become quotes, so the value stays inside the message's `code` span."""
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[:limit] + "…"


def url_warning(name: str, raw: str, reason: str, default) -> str:
    """'URL parameter `seed` ignored: seed must be a whole number, got `1e99`. Using the default 0.'"""
    return (
        f"URL parameter `{name}` ignored: {name} {reason}, got `{shorten(raw)}`. Using the default {default}."
    )


def widget_key(page: str, name: str) -> str:
    return f"{STATE_PREFIX}{page}.{name}"


def page_value(page: str, name: str):
    return st.session_state[widget_key(page, name)]


def load_page_state(page: str, params: dict[str, Param]) -> list[str]:
    """Put each setting into st.session_state["w.<page>.<name>"]; return URL warnings.

    The URL is read once per session and page (a shared link restores the view); after that
    the session's own widget values win, so nothing the user did is lost on a rerun.
    """
    warnings = []
    loaded_flag = f"_url_loaded.{page}"
    from_url = not st.session_state.get(loaded_flag, False)
    st.session_state[loaded_flag] = True
    for name, param in params.items():
        key = widget_key(page, name)
        if from_url and name in st.query_params:
            raw = st.query_params[name]
            try:
                st.session_state[key] = param.parse(raw)
                continue
            except ValueError as error:
                warnings.append(url_warning(name, raw, str(error), param.default))
        if key not in st.session_state:
            st.session_state[key] = param.default
    return warnings


def save_page_state(page: str, params: dict[str, Param]) -> None:
    """Mirror the page's settings into the URL, so copying it shares this exact view."""
    values = {}
    for name, param in params.items():
        value = page_value(page, name)
        values[name] = int(value) if isinstance(param.default, bool) else value
    if LECTURE in st.query_params or lecture_mode():
        values[LECTURE] = int(lecture_mode())
    st.query_params.from_dict({k: str(v) for k, v in values.items()})


def keep_widget_state() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning every
    kept key at the start of each run makes it ordinary session state that survives."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(STATE_PREFIX):
            st.session_state[key] = st.session_state[key]


def show_warnings(messages: list[str]) -> None:
    for message in messages:
        st.warning(message, icon="⚠️")


def lecture_mode() -> bool:
    return bool(st.session_state.get(widget_key("app", LECTURE), False))


def lecture_mode_from_url() -> bool:
    return st.query_params.get(LECTURE) in ("1", "true")


# ----- y values typed as text --------------------------------------------------------------


def y_text(values=SHOWN_Y_VALUES) -> str:
    """(1.0, 0.2, 0.05, -3.0) → '1, 0.2, 0.05, -3': a y list as the text box and the URL hold it."""
    return ", ".join(f"{y:g}" for y in values)


def parse_y_values(text: str) -> tuple[list[float], str]:
    """'1, 0.2, -3' → [1.0, 0.2, -3.0]; a warning instead of an error for anything else."""
    values, bad = [], []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            bad.append(part)
            continue
        if math.isfinite(value) and -10 <= value <= 10:
            values.append(value)
        else:
            bad.append(part)
    warning = ignored_y_warning(bad)
    if not values:
        values = list(SHOWN_Y_VALUES)
        shown = y_text().replace("-", "−")
        warning = (warning + " " if warning else "") + f"Using the paper's y = {shown}."
    if len(values) > MAX_Y_VALUES:
        dropped = shorten(y_text(values[MAX_Y_VALUES:]))
        most = MAX_Y_VALUES
        cut = f"Drawing the first {most} y values only (at most {most} fit); not drawn: {dropped}."
        warning = (warning + " " if warning else "") + cut
    return values[:MAX_Y_VALUES], warning


def ignored_y_warning(bad: list[str]) -> str:
    """'Ignored y values abc, 2e9: …', each shortened and at most SHOWN_BAD_Y of them named."""
    if not bad:
        return ""
    named = ", ".join(shorten(part) for part in bad[:SHOWN_BAD_Y])
    more = f" and {len(bad) - SHOWN_BAD_Y} more" if len(bad) > SHOWN_BAD_Y else ""
    return f"Ignored y values {named}{more}: use numbers between −10 and 10."
