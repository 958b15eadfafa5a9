"""Train & explore: pick a prior and a posterior, train live, compare with the exact truth."""

import pandas as pd
import streamlit as st

from dashboard import charts, explore, live_controls, service_client, tour_box, train_form
from dashboard.training_panel import show_divergence, show_outcome, training_panel
from dashboard.url_state import (
    Param,
    lecture_mode,
    load_page_state,
    page_value,
    parse_y_values,
    save_page_state,
    show_warnings,
    widget_key,
)
from vae_core import tour
from vae_core.metrics import metrics_side_by_side, metrics_table
from vae_core.paper import MODEL_NAMES
from vae_core.plots.live import run_label
from vae_core.plots.run import COMPARABLE_FIGURES

PAGE = train_form.PAGE
# The tabs under the live view, one detail of a finished run each (the first is open at first).
DETAIL_TABS = (
    "Metrics",
    "Training curves",
    "Decoder",
    "p(y)",
    "Posteriors",
    "Encoder",
    "Prior",
    "Training animation",
)
PARAMS = {
    **train_form.PARAMS,
    "details": Param(DETAIL_TABS[0], choices=DETAIL_TABS),
    explore.PROBE: explore.probe_param(),
}
CAPTIONS = {
    "decoder": "Left: the decoder in the model's own latent. Middle: the same decoder on the true "
    "latent's scale (u = F_prior(z)). It need not look like f: cutting [0, 1] into pieces "
    "and rearranging them (any measure-preserving rearrangement of u) gives the same "
    "p(y), so the data cannot tell these decoders apart (non-identifiability); f's own "
    "mirror and half-shift leave f unchanged. Right: the quantile function of f_φ(z), "
    "the part of the decoder that p(y) does pin down.",
    "posteriors": "Top: the encoder q(z|y) (solid) against the model's own exact posterior p_θ(z|y) "
    "(olive, dashed), in the model's latent; their mismatch is the inference gap "
    "log p_θ(y) − ELBO(y) = KL(q ‖ p_θ), printed in each panel. Bottom: the true "
    "posterior p(u|y) in the truth's own latent. The two latents are not comparable "
    "point by point (the model may arrange its latent in any of many ways with the same "
    "p(y)); what is comparable is how much each posterior changes with y, the "
    "information I in the metrics.",
    "encoder": "The encoder as a function of y: q(z|y)'s mean ± one standard deviation (band) and, "
    "for a mixture posterior, each component's mean (dotted), drawn over the model's own exact "
    "posterior p_θ(z|y) (grey heat map; olive: its mean ± std). Several bright bands with q on "
    "one: the encoder misses modes. A band that stays flat as y moves: q ignores y.",
}

st.title("Train & explore")
# During the guided tour the tour's box replaces the introduction and the presets, so the
# figures fit above the fold of a lecture screen.
touring = lecture_mode() and tour_box.touring()
if not touring:
    st.markdown(
        "Choose a prior and a posterior, press **Train**, and compare what the VAE learns "
        "with the exact answers. Trained settings are cached: revisiting one is instant. "
        "**MFG**: mean-field Gaussian (a Gaussian q(z|y)); **MoG**: mixture of Gaussians."
    )
show_warnings(load_page_state(PAGE, PARAMS))
if not touring:
    train_form.preset_buttons()
if lecture_mode():
    tour_box.show_tour(train_form.apply_config, service_client.training_service().lookup)
with st.expander("Controls", expanded=not lecture_mode()):
    train_form.controls()
save_page_state(PAGE, PARAMS)

config = train_form.config_from_form()
if config.n_components == 1 and config.has_mixture:
    st.info(
        "With M = 1 a mixture is a single Gaussian: the mixture model equals its Gaussian "
        "counterpart (except that a mixture prior's mean and scale are learned)."
    )
if lecture_mode():  # the controls are collapsed: say in one line what is set
    st.caption(f":material/tune: {tour.settings_summary(config)}")
# The live view goes right here in lecture mode (above the fold), after the run's status otherwise.
view_slot = st.container() if lecture_mode() else None
y_values, y_warning = parse_y_values(page_value(PAGE, "y"))
if y_warning:
    st.warning(y_warning)

st.subheader(MODEL_NAMES[(config.prior, config.posterior)])
result = service_client.training_service().lookup(config)
if result is None:
    # A reload (a new session, no tickets) finds the run of this URL's config that trains on.
    service_client.reattach(PAGE, [config])
    with view_slot if view_slot is not None else st.container():  # above the fold in lectures
        (result,) = training_panel(PAGE, [config], live=True)
    if result is not None and result.status == "stopped":
        st.caption(
            "Showing the run you stopped: **Resume** continues it from there; **Train** "
            "starts these settings afresh."
        )
        live_controls.resume_button(PAGE, config)
if result is None:
    if not service_client.training_active(PAGE, [config]):
        st.info("Not trained yet: press **Train** (a default run takes a few seconds).")
        explore.show_truth(config.noise_std)
    st.stop()

# Every file a run exports is named for it (model, M if a mixture, σ, seed, steps).
stem = (
    f"{config.prior}-prior_{config.posterior}-posterior"
    f"{f'_M{config.n_components}' if config.has_mixture else ''}"
    f"_sigma{config.noise_std:g}_seed{config.seed}_{config.steps}steps"
)
if result.diverged:
    show_divergence(result)
    st.stop()
show_outcome(result, pretrained=service_client.training_service().pretrained(config))
with st.expander("Exact settings of this run"):
    st.json(config.to_dict())

# Explore: probe any y, pin a run and compare, the four live figures.
with view_slot if view_slot is not None else st.container():
    explore.explore(result, prior_first=tour_box.looks_at("prior"))


# The pinned run (B), when there is one and it is another run: every tab shows it beside A.
pinned = explore.pinned_result()
if pinned is not None and (pinned.config == config or pinned.diverged):
    pinned = None


def figure(name: str, run=None):
    return charts.run_figure(run or result, name, tuple(y_values))


def pinned_stem() -> str:
    """The file names of figures with B: this run's stem and B's settings."""
    other = pinned.config
    return f"{stem}_vs_B_{other.prior}-{other.posterior}_sigma{other.noise_std:g}_seed{other.seed}"


def show_metrics(metrics: pd.DataFrame) -> None:
    st.markdown("**Metrics** (all exact, by quadrature)")
    charts.lecture_table_style()
    if pinned is not None:
        both = metrics_side_by_side(result.metrics, pinned.metrics)
        st.table(both.set_index("metric").map(lambda v: "" if pd.isna(v) else f"{v:.4f}"))
        st.caption(f"{run_label(config)} · {run_label(pinned.config, pinned=True)} · A − B per row.")
        return
    st.table(metrics.assign(value=metrics["value"].map(lambda v: f"{v:.4f}")).set_index("metric"))


def show_model_figure(name: str) -> None:
    if pinned is not None and name in COMPARABLE_FIGURES:
        charts.show_figure(charts.compared_run_figure(result, pinned, name), f"{pinned_stem()}_{name}")
    else:
        charts.show_figure(figure(name), f"{stem}_{name}")
        if pinned is not None:  # a per-run figure: B's below A's
            st.markdown(f"**{run_label(pinned.config, pinned=True)}**")
            charts.show_figure(figure(name, pinned), f"{pinned_stem()}_{name}_B")
    if name in CAPTIONS:
        st.caption(CAPTIONS[name])


def show_animation() -> None:
    # On screen the animation; on paper (PNG, ZIP) the same snapshots as still lines.
    charts.show_figure(figure(charts.ANIMATION), f"{stem}_{charts.ANIMATION}", paper=figure(charts.SNAPSHOTS))


metrics = metrics_table(result.metrics)
# One detail at a time, built when its tab is opened: a finished page costs the view above and
# one tab, not ten figures (twenty students finishing together made the server build and the
# browsers draw ~200 figures at once; issue 7). The open tab is a page setting (URL `details`).
details = {  # DETAIL_TABS, in order
    "Metrics": lambda: show_metrics(metrics),
    "Training curves": lambda: show_model_figure("training_curves"),
    "Decoder": lambda: show_model_figure("decoder"),
    "p(y)": lambda: show_model_figure("generated_marginal"),
    "Posteriors": lambda: show_model_figure("posteriors"),
    "Encoder": lambda: show_model_figure("encoder"),
    "Prior": lambda: explore.show_prior(result, f"{stem}_prior"),
    "Training animation": show_animation,
}
assert tuple(details) == DETAIL_TABS
for tab, show in zip(
    st.tabs(DETAIL_TABS, key=widget_key(PAGE, "details"), on_change="rerun"), details.values(), strict=True
):
    if tab.open:
        with tab:
            show()


def paper_figures() -> dict:
    """Every figure for the ZIP, built only when it is downloaded."""
    # Every file is named for its run, so the ZIPs of several runs can share a folder.
    figures = {f"{stem}_{name}": figure(name) for name in charts.RUN_ZIP_FIGURES}
    figures[f"{stem}_prior"] = explore.prior_of(result)
    if pinned is not None:
        figures |= {
            f"{pinned_stem()}_{name}": charts.compared_run_figure(result, pinned, name)
            for name in COMPARABLE_FIGURES
        }
    return figures


charts.download_all(
    paper_figures, pd.concat([metrics, charts.settings_rows(config)], ignore_index=True), stem
)
