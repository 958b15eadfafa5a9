"""Ground truth: the data-generating process and its exact, multimodal posterior."""

import streamlit as st

from dashboard import charts
from dashboard.url_state import (
    MAX_Y_VALUES,
    Param,
    lecture_mode,
    load_page_state,
    page_value,
    parse_y_values,
    save_page_state,
    show_warnings,
    widget_key,
    y_text,
)
from vae_core.config import LABELS, NOISE_LEVELS
from vae_core.paper import PAPER_NOISE_STD

PAGE = "truth"
PARAMS = {
    "noise": Param(PAPER_NOISE_STD, choices=NOISE_LEVELS),
    "n": Param(1000, low=100, high=20000),
    "y": Param(y_text()),
}

st.title("Ground truth")
st.markdown(
    "The data come from **z ~ U(0, 1)**, **y | z ~ N(f(z), σ²)** with "
    "f(z) = (2z − 0.5)² for z < 0.5 and (2z − 1.5)² for z ≥ 0.5. "
    "Everything on this page is exact (quadrature over z), not learned."
)
show_warnings(load_page_state(PAGE, PARAMS))

with st.expander("Controls", expanded=not lecture_mode()):
    left, middle, right = st.columns(3)
    left.select_slider(
        LABELS["noise_std"],
        NOISE_LEVELS,
        key=widget_key(PAGE, "noise"),
        help=f"The paper uses σ = {PAPER_NOISE_STD:g}. Smaller σ sharpens everything.",
    )
    middle.number_input("Data points to sample", 100, 20000, step=100, key=widget_key(PAGE, "n"))
    right.text_input(
        "y values for the posterior slices",
        key=widget_key(PAGE, "y"),
        help=f"Comma-separated, at most {MAX_Y_VALUES}. The paper's 1 and −3 lie outside the data.",
    )
save_page_state(PAGE, PARAMS)

noise_std = page_value(PAGE, "noise")
y_values, y_warning = parse_y_values(page_value(PAGE, "y"))
if y_warning:
    st.warning(y_warning)

built = charts.truth_figures(noise_std, page_value(PAGE, "n"), tuple(y_values))
left, right = st.columns(2)
with left:
    charts.show_figure(built["true_decoder"], "true_decoder")
with right:
    charts.show_figure(built["true_marginal"], f"true_marginal_sigma{noise_std:g}")

st.subheader("Why the posterior p(z | y) is multimodal")
st.markdown(
    "f is not one-to-one: every y between 0 and 0.25 is reached at **four** z's (two on each "
    "half of [0, 1]), so Bayes' rule p(z | y) ∝ N(y; f(z), σ²) puts a bump at each of them. "
    "A Gaussian q(z | y) can cover only one bump, or smear over all four: that is the failure "
    "mode a mixture posterior is meant to fix. Outside the data (y = 1 or y = −3) the posterior "
    "concentrates where f is largest or smallest."
)
charts.show_figure(built["true_posterior_heatmap"], f"true_posterior_heatmap_sigma{noise_std:g}")
charts.show_figure(built["true_posterior_slices"], f"true_posterior_slices_sigma{noise_std:g}")
