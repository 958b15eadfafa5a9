"""The guided tour's box in the sidebar (lecture mode): each step loads its settings, its y
and its pinned run. The tour's content is vae_core.tour."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import explore
from vae_core import tour
from vae_core.config import TrainConfig

TOUR_STEP = "train.tour_step"  # index of the tour step on screen, absent before the tour starts
FIGURE_TITLES = {
    "elbo": "the training curve",
    "decoder": "the decoder",
    "marginal": "p_θ(y) against p(y)",
    "posterior": "the posterior at the chosen y",
    "prior": "the prior against the aggregate posterior",
    "truth_heatmap": "the ground-truth heat map",
}


def _go_to_step(index: int, apply_config: Callable[[TrainConfig], None], lookup) -> None:
    """Load a step's settings, its y and its pinned run (callback: runs before the rerun)."""
    step = tour.step(index)
    st.session_state[TOUR_STEP] = index
    apply_config(step.config)
    st.session_state[explore.probe_key()] = step.probe_y
    explore.pin(lookup(step.pinned) if step.pinned is not None else None)


def touring() -> bool:
    return TOUR_STEP in st.session_state


def looks_at(figure: str) -> bool:
    """Whether the tour's current step points at `figure` first (a FIGURE_TITLES name)."""
    index = st.session_state.get(TOUR_STEP)
    return index is not None and tour.step(index).look_at[0] == figure


def _end_tour() -> None:
    st.session_state.pop(TOUR_STEP, None)


def show_tour(apply_config: Callable[[TrainConfig], None], lookup) -> None:
    """The guided tour, in the sidebar (the main area keeps the figures above the fold).

    apply_config sets the page's controls to a step's config; lookup(config) finds a trained run.
    """
    index = st.session_state.get(TOUR_STEP)
    args = (apply_config, lookup)
    box = st.sidebar.container(border=True)
    if index is None:
        box.markdown(
            f"**Guided tour**: the paper's story in {len(tour.TOUR)} steps, from the "
            "truth to non-identifiability. Each step loads its settings."
        )
        box.button(
            "Start the tour →",
            on_click=_go_to_step,
            args=(0, *args),
            key="tour.start",
            type="primary",
            width="stretch",
        )
        return
    step = tour.step(index)
    look = ", ".join(FIGURE_TITLES[name] for name in step.look_at)
    # Next → first, always at the same place: a lecturer clicks it again and again, and under a
    # long step text the narrow sidebar would push it below a 1080-px screen.
    box.button(
        "Next →",
        on_click=_go_to_step,
        args=(index + 1, *args),
        key="tour.next",
        disabled=index >= len(tour.TOUR) - 1,
        type="primary",
        width="stretch",
    )
    box.markdown(
        f"**{step.title}** ({index + 1}/{len(tour.TOUR)})  \n{step.text}  \n"
        f":material/visibility: **Look at** {look}."
    )
    box.button(
        "← Back",
        on_click=_go_to_step,
        args=(index - 1, *args),
        key="tour.back",
        disabled=index == 0,
        width="stretch",
    )
    box.button("End the tour", icon=":material/close:", on_click=_end_tour, key="tour.end", type="tertiary")
