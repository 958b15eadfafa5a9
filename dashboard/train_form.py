"""The Train page's form: THE one mapping between a URL parameter, its control and the
TrainConfig field it sets (FIELDS), the controls themselves, and the page's presets.

A shared link names the URL parameters (`?prior=mog&M=3&noise=0.03`): never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.url_state import MAX_Y_VALUES, Param, lecture_mode, page_value, widget_key, y_text
from vae_core import claims, convergence
from vae_core.config import (
    APP_RANGES,
    HIDDEN_WIDTHS,
    LABELS,
    LEARNING_RATES,
    NOISE_LEVELS,
    PRIOR_KINDS,
    TrainConfig,
)

PAGE = "train"
KINDS = PRIOR_KINDS  # the same two kinds for the prior and the posterior
DEFAULTS = TrainConfig()  # the page's defaults are the library's, so they hit the presets


@dataclass(frozen=True)
class FormField:
    """One control of the form: its URL name (= widget name), the TrainConfig field it sets,
    its URL setting, and whether the control says the opposite of the field (`inverted`)."""

    name: str
    field: str
    param: Param
    inverted: bool = False

    def to_config(self, value):
        return not value if self.inverted else value

    def from_config(self, config: TrainConfig):
        value = getattr(config, self.field)
        return not value if self.inverted else value


def _ranged(name: str, field: str) -> FormField:
    """A field within the app's range of it, starting at the library's default."""
    low, high = APP_RANGES[field]
    return FormField(name, field, Param(getattr(DEFAULTS, field), low=low, high=high))


def _chosen(name: str, field: str, choices: tuple) -> FormField:
    return FormField(name, field, Param(getattr(DEFAULTS, field), choices=choices))


FIELDS = (
    _chosen("prior", "prior", KINDS),
    _chosen("posterior", "posterior", KINDS),
    _ranged("M", "n_components"),
    _chosen("noise", "noise_std", NOISE_LEVELS),
    _ranged("steps", "steps"),
    _chosen("lr", "lr", LEARNING_RATES),
    _chosen("hidden", "hidden", HIDDEN_WIDTHS),
    _ranged("seed", "seed"),
    FormField("early", "early_stop", Param(DEFAULTS.early_stop)),
    # "Plain (unbounded) scales": on means bounded_scales=False.
    FormField("plain", "bounded_scales", Param(not DEFAULTS.bounded_scales), inverted=True),
)
BY_NAME = {f.name: f for f in FIELDS}
# The form's URL settings: the config's fields, then the y values of the posterior plots.
PARAMS = {**{f.name: f.param for f in FIELDS}, "y": Param(y_text())}


def config_from_form() -> TrainConfig:
    """The TrainConfig the controls show."""
    return TrainConfig(**{f.field: f.to_config(page_value(PAGE, f.name)) for f in FIELDS})


def apply_config(config: TrainConfig) -> None:
    """Set every control to a config's values (a preset, or a step of the guided tour).

    M keeps its default where nothing is a mixture (MFG-VAE's config may store M = 1).
    """
    for f in FIELDS:
        value = f.from_config(config)
        if f.name == "M" and not config.has_mixture:
            value = f.param.default
        st.session_state[widget_key(PAGE, f.name)] = value


# ----- presets -------------------------------------------------------------------------------


def preset(prior: str, posterior: str, noise: float = DEFAULTS.noise_std, lr: float = DEFAULTS.lr):
    """Every setting, so a preset always lands on the same (usually pre-trained) config."""
    return DEFAULTS.replace(
        prior=prior,
        posterior=posterior,
        noise_std=noise,
        lr=lr,
        steps=convergence.step_budget(noise),
        early_stop=True,
    )


DIVERGING_PRESET = "Blow-up at lr = 10"  # short enough for five columns at 1400 px
PRESET_HELP = {
    DIVERGING_PRESET: "Not the paper's divergence: a learning rate a thousand times too large "
    "blows up Adam whatever the scales. " + claims.PLAIN_SCALES_FINDING
}
PRESETS = {
    "MFG-VAE (paper)": preset("gaussian", "gaussian"),
    "MoG posterior (paper)": preset("gaussian", "mog"),
    "MoG prior (paper)": preset("mog", "gaussian"),
    "MoG prior, sharp data σ = 0.03": preset("mog", "gaussian", noise=0.03),
    # Not the paper's divergence (bounded scales prevent that one, and with plain scales none of
    # the seeds counted in docs/claims.md, C2, diverged at the paper's settings): an optimiser
    # blow-up, kept to show what a diverged run looks like.
    DIVERGING_PRESET: preset("gaussian", "mog", noise=0.01, lr=10.0),
}


def preset_buttons() -> None:
    """One button per preset, in a row (fewer, wider columns in lecture mode, where the large
    font would cut the labels)."""
    columns = st.columns(3 if lecture_mode() else len(PRESETS))
    for index, (label, config) in enumerate(PRESETS.items()):
        columns[index % len(columns)].button(
            label,
            on_click=apply_config,
            args=(config,),
            width="stretch",
            key=f"preset.{label}",
            help=PRESET_HELP.get(label),
        )


# ----- the controls --------------------------------------------------------------------------


def kind_label(kind: str) -> str:
    return "Gaussian" if kind == "gaussian" else "mixture of M Gaussians"


def _key(name: str) -> str:
    return widget_key(PAGE, name)


def controls() -> None:
    """The form's controls, in three columns, and the y values of the posterior plots."""
    first, second, third = st.columns(3)
    first.radio(LABELS["prior"], KINDS, key=_key("prior"), format_func=kind_label, horizontal=True)
    first.radio(LABELS["posterior"], KINDS, key=_key("posterior"), format_func=kind_label, horizontal=True)
    ignores_m = {page_value(PAGE, "prior"), page_value(PAGE, "posterior")} == {"gaussian"}
    m = BY_NAME["M"].param
    first.slider(
        LABELS["n_components"],
        m.low,
        m.high,
        key=_key("M"),
        disabled=ignores_m,
        help="Used by whichever of prior and posterior is a mixture"
        + (" (neither is, so MFG-VAE ignores M)." if ignores_m else "."),
    )
    second.select_slider(LABELS["noise_std"], NOISE_LEVELS, key=_key("noise"))
    steps = BY_NAME["steps"].param
    second.slider(LABELS["steps"], steps.low, steps.high, step=100, key=_key("steps"))
    second.select_slider(
        LABELS["lr"],
        LEARNING_RATES,
        key=_key("lr"),
        help="Adam, cosine-decayed to a hundredth (vae_core/convergence.py). Very large values diverge.",
    )
    third.select_slider(LABELS["hidden"], HIDDEN_WIDTHS, key=_key("hidden"))
    seed = BY_NAME["seed"].param
    third.number_input(LABELS["seed"], seed.low, seed.high, key=_key("seed"))
    third.checkbox("Stop early once converged", key=_key("early"))
    third.checkbox(
        "Plain (unbounded) scales",
        key=_key("plain"),
        help="Off (default): every scale of q(z|y) and of a mixture prior is kept between a floor "
        "and a ceiling, so a variance can never collapse or explode. On: plain exp(raw) scales, as "
        "in a textbook implementation (and the paper's), where training can diverge (claim C2). "
        + claims.PLAIN_SCALES_FINDING,
    )
    st.text_input(
        "y values for the posterior plots",
        key=_key("y"),
        help=f"Comma-separated, at most {MAX_Y_VALUES}; the paper uses 1, 0.2 and −3.",
    )
