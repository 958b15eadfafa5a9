"""Ground truth: the data-generating process and its exact, multimodal posterior."""

import streamlit as st

import ui
from vae_core.config import LABELS, NOISE_LEVELS, PAPER_NOISE_STD
from vae_core.ground_truth import sample
from vae_core.plots import truth

ui.run_through_app()  # a deep link on a fresh server (see ui.run_through_app)

PAGE = "truth"
PARAMS = {
    "noise": ui.Param(PAPER_NOISE_STD, choices=NOISE_LEVELS),
    "n": ui.Param(1000, low=100, high=20000),
    "y": ui.Param("1, 0.2, 0.05, -3"),
}

st.title("Ground truth")
st.markdown(
    "The data come from **z ~ U(0, 1)**, **y | z ~ N(f(z), σ²)** with "
    "f(z) = (2z − 0.5)² for z < 0.5 and (2z − 1.5)² for z ≥ 0.5. "
    "Everything on this page is exact (quadrature over z), not learned."
)
ui.show_warnings(ui.load_page_state(PAGE, PARAMS))

with st.expander("Controls", expanded=not ui.lecture_mode()):
    left, middle, right = st.columns(3)
    left.select_slider(
        LABELS["noise_std"],
        NOISE_LEVELS,
        key=ui.widget_key(PAGE, "noise"),
        help=f"The paper uses σ = {PAPER_NOISE_STD:g}. Smaller σ sharpens everything.",
    )
    middle.number_input("Data points to sample", 100, 20000, step=100, key=ui.widget_key(PAGE, "n"))
    right.text_input(
        "y values for the posterior slices",
        key=ui.widget_key(PAGE, "y"),
        help="Comma-separated. The paper's 1 and −3 lie outside the data.",
    )
ui.save_page_state(PAGE, PARAMS)

noise_std = ui.page_value(PAGE, "noise")
y_values, y_warning = ui.parse_y_values(ui.page_value(PAGE, "y"))
if y_warning:
    st.warning(y_warning)


@st.cache_data(show_spinner=False)
def sampled_y(n: int, noise_std: float):
    return sample(n, noise_std, seed=0)[1].numpy()


@st.cache_resource(show_spinner=False)
def truth_figures(noise_std: float, n: int, y_values: tuple):
    """Built once per setting for all sessions; the page re-renders from these."""
    return {
        "true_decoder": truth.true_decoder_figure(),
        "true_marginal": truth.true_marginal_figure(noise_std, sampled_y(n, noise_std)),
        "true_posterior_heatmap": truth.true_posterior_heatmap(noise_std, y_values),
        "true_posterior_slices": truth.true_posterior_slices(noise_std, y_values),
    }


built = truth_figures(noise_std, ui.page_value(PAGE, "n"), tuple(y_values))
left, right = st.columns(2)
with left:
    ui.show_figure(built["true_decoder"], "true_decoder")
with right:
    ui.show_figure(built["true_marginal"], f"true_marginal_sigma{noise_std:g}")

st.subheader("Why the posterior p(z | y) is multimodal")
st.markdown(
    "f is not one-to-one: every y between 0 and 0.25 is reached at **four** z's (two on each "
    "half of [0, 1]), so Bayes' rule p(z | y) ∝ N(y; f(z), σ²) puts a bump at each of them. "
    "A Gaussian q(z | y) can cover only one bump, or smear over all four: that is the failure "
    "mode a mixture posterior is meant to fix. Outside the data (y = 1 or y = −3) the posterior "
    "concentrates where f is largest or smallest."
)
ui.show_figure(built["true_posterior_heatmap"], f"true_posterior_heatmap_sigma{noise_std:g}")
ui.show_figure(built["true_posterior_slices"], f"true_posterior_slices_sigma{noise_std:g}")
