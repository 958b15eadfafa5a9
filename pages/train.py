"""Train & explore: pick a prior and a posterior, train live, compare with the exact truth."""

import pandas as pd
import streamlit as st

import live_view
import ui
from vae_core import claims, convergence, tour
from vae_core.config import (
    APP_RANGES,
    HIDDEN_WIDTHS,
    LABELS,
    LEARNING_RATES,
    MODEL_NAMES,
    NOISE_LEVELS,
    PRIOR_KINDS,
    TrainConfig,
)
from vae_core.metrics import metrics_table
from vae_core.plots import run

ui.run_through_app()  # a deep link on a fresh server (see ui.run_through_app)

PAGE = "train"
KINDS = PRIOR_KINDS  # the same two kinds for the prior and the posterior
DEFAULTS = TrainConfig()  # the page's defaults are the library's, so they hit the presets


def ranged(name: str) -> ui.Param:
    """The URL setting of TrainConfig field `name`: its default, within the app's range."""
    low, high = APP_RANGES[name]
    return ui.Param(getattr(DEFAULTS, name), low=low, high=high)


# The tabs under the live view, one detail of a finished run each (the first is open at first).
DETAIL_TABS = ("Metrics", "Training curves", "Decoder", "p(y)", "Posteriors", "Prior", "Training animation")
PARAMS = {
    "prior": ui.Param(DEFAULTS.prior, choices=KINDS),
    "posterior": ui.Param(DEFAULTS.posterior, choices=KINDS),
    "M": ranged("n_components"),
    "noise": ui.Param(DEFAULTS.noise_std, choices=NOISE_LEVELS),
    "steps": ranged("steps"),
    "lr": ui.Param(DEFAULTS.lr, choices=LEARNING_RATES),
    "hidden": ui.Param(DEFAULTS.hidden, choices=HIDDEN_WIDTHS),
    "seed": ranged("seed"),
    "early": ui.Param(DEFAULTS.early_stop),
    "plain": ui.Param(not DEFAULTS.bounded_scales),
    "y": ui.Param("1, 0.2, 0.05, -3"),
    "details": ui.Param(DETAIL_TABS[0], choices=DETAIL_TABS),
    live_view.PROBE: live_view.probe_param(),
}


def preset(
    prior: str,
    posterior: str,
    noise: float = DEFAULTS.noise_std,
    lr: float = DEFAULTS.lr,
    seed: int = 0,
    plain: bool = False,
):
    """Every setting, so a preset always lands on the same (usually pre-trained) config."""
    return dict(
        prior=prior,
        posterior=posterior,
        M=DEFAULTS.n_components,
        noise=noise,
        lr=lr,
        steps=convergence.step_budget(noise),
        hidden=DEFAULTS.hidden,
        seed=seed,
        early=True,
        plain=plain,
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


def apply_preset(values: dict) -> None:
    for name, value in values.items():
        st.session_state[ui.widget_key(PAGE, name)] = value


def apply_config(config: TrainConfig) -> None:
    """Set every control to a config's values (the guided tour's steps are configs)."""
    uses_m = "mog" in (config.prior, config.posterior)  # MFG-VAE's config stores M = 1
    apply_preset(
        dict(
            prior=config.prior,
            posterior=config.posterior,
            M=config.n_components if uses_m else PARAMS["M"].default,
            noise=config.noise_std,
            lr=config.lr,
            steps=config.steps,
            hidden=config.hidden,
            seed=config.seed,
            early=config.early_stop,
            plain=not config.bounded_scales,
        )
    )


def settings_rows(config: TrainConfig) -> pd.DataFrame:
    """The run's settings as rows of the metrics CSV, so a downloaded table says what it measured."""
    return pd.DataFrame(
        [(f"setting: {name}", value, "the run's configuration") for name, value in config.to_dict().items()],
        columns=["metric", "value", "meaning"],
    )


def divergence_note(config: TrainConfig) -> str:
    """Why this run may have diverged, and whether it is the paper's phenomenon (claim C2)."""
    if not config.bounded_scales:
        return (
            "With plain (unbounded) scales a variance of q(z|y) or of the prior can collapse "
            "or explode: this is the divergence the paper reports (claim C2). The default "
            "bounded scales prevent it by construction."
        )
    return (
        "Try a smaller learning rate or a larger noise level σ. (With bounded scales, the "
        "default, a variance can neither collapse nor explode, so this is a learning rate too "
        "large for Adam, not the paper's divergence; tick **Plain (unbounded) scales** to "
        "train as the paper did. See docs/claims.md, C2.)"
    )


def kind_label(kind: str) -> str:
    return "Gaussian" if kind == "gaussian" else "mixture of M Gaussians"


st.title("Train & explore")
# During the guided tour the tour's box replaces the introduction and the presets, so the
# figures fit above the fold of a lecture screen.
touring = ui.lecture_mode() and live_view.touring()
if not touring:
    st.markdown(
        "Choose a prior and a posterior, press **Train**, and compare what the VAE learns "
        "with the exact answers. Trained settings are cached: revisiting one is instant. "
        "**MFG**: mean-field Gaussian (a Gaussian q(z|y)); **MoG**: mixture of Gaussians."
    )
ui.show_warnings(ui.load_page_state(PAGE, PARAMS))

# Fewer, wider columns in lecture mode, where the large font would cut the labels.
preset_columns = st.columns(3 if ui.lecture_mode() else len(PRESETS)) if not touring else []
for index, (label, values) in enumerate(PRESETS.items() if not touring else []):
    column = preset_columns[index % len(preset_columns)]
    column.button(
        label,
        on_click=apply_preset,
        args=(values,),
        width="stretch",
        key=f"preset.{label}",
        help=PRESET_HELP.get(label),
    )

if ui.lecture_mode():
    live_view.show_tour(apply_config, ui.training_service().lookup)

with st.expander("Controls", expanded=not ui.lecture_mode()):
    first, second, third = st.columns(3)
    first.radio(
        LABELS["prior"], KINDS, key=ui.widget_key(PAGE, "prior"), format_func=kind_label, horizontal=True
    )
    first.radio(
        LABELS["posterior"],
        KINDS,
        key=ui.widget_key(PAGE, "posterior"),
        format_func=kind_label,
        horizontal=True,
    )
    ignores_m = {ui.page_value(PAGE, "prior"), ui.page_value(PAGE, "posterior")} == {"gaussian"}
    first.slider(
        LABELS["n_components"],
        PARAMS["M"].low,
        PARAMS["M"].high,
        key=ui.widget_key(PAGE, "M"),
        disabled=ignores_m,
        help="Used by whichever of prior and posterior is a mixture"
        + (" (neither is, so MFG-VAE ignores M)." if ignores_m else "."),
    )
    second.select_slider(LABELS["noise_std"], NOISE_LEVELS, key=ui.widget_key(PAGE, "noise"))
    second.slider(
        LABELS["steps"], PARAMS["steps"].low, PARAMS["steps"].high, step=100, key=ui.widget_key(PAGE, "steps")
    )
    second.select_slider(
        LABELS["lr"],
        LEARNING_RATES,
        key=ui.widget_key(PAGE, "lr"),
        help="Adam, cosine-decayed to a hundredth (vae_core/convergence.py). Very large values diverge.",
    )
    third.select_slider(LABELS["hidden"], HIDDEN_WIDTHS, key=ui.widget_key(PAGE, "hidden"))
    third.number_input(
        LABELS["seed"], PARAMS["seed"].low, PARAMS["seed"].high, key=ui.widget_key(PAGE, "seed")
    )
    third.checkbox("Stop early once converged", key=ui.widget_key(PAGE, "early"))
    third.checkbox(
        "Plain (unbounded) scales",
        key=ui.widget_key(PAGE, "plain"),
        help="Off (default): every scale of q(z|y) and of a mixture prior is kept between a floor "
        "and a ceiling, so a variance can never collapse or explode. On: plain exp(raw) scales, as "
        "in a textbook implementation (and the paper's), where training can diverge (claim C2). "
        + claims.PLAIN_SCALES_FINDING,
    )
    st.text_input(
        "y values for the posterior plots",
        key=ui.widget_key(PAGE, "y"),
        help="Comma-separated; the paper uses 1, 0.2 and −3.",
    )
ui.save_page_state(PAGE, PARAMS)


def value(name):
    return ui.page_value(PAGE, name)


config = TrainConfig(
    prior=value("prior"),
    posterior=value("posterior"),
    n_components=value("M"),
    noise_std=value("noise"),
    steps=value("steps"),
    lr=value("lr"),
    hidden=value("hidden"),
    seed=value("seed"),
    early_stop=value("early"),
    bounded_scales=not value("plain"),
)
if config.n_components == 1 and "mog" in (config.prior, config.posterior):
    st.info(
        "With M = 1 a mixture is a single Gaussian: the mixture model equals its Gaussian "
        "counterpart (except that a mixture prior's mean and scale are learned)."
    )
if ui.lecture_mode():  # the controls are collapsed: say in one line what is set
    st.caption(f":material/tune: {tour.settings_summary(config)}")
# The live view goes right here in lecture mode (above the fold), after the run's status otherwise.
view_slot = st.container() if ui.lecture_mode() else None
y_values, y_warning = ui.parse_y_values(value("y"))
if y_warning:
    st.warning(y_warning)

st.subheader(MODEL_NAMES[(config.prior, config.posterior)])
result = ui.training_service().lookup(config)
if result is None:
    with view_slot if view_slot is not None else st.container():  # above the fold in lectures
        (result,) = ui.training_panel(PAGE, [config], live=live_view.training_view)
    if result is not None and result.status == "stopped":
        st.caption(
            "Showing the run you stopped: **Resume** continues it from there; **Train** "
            "starts these settings afresh."
        )
        live_view.resume_button(config)
if result is None:
    if not ui.training_active(PAGE, [config]):
        st.info("Not trained yet: press **Train** (a default run takes a few seconds).")
        live_view.show_truth(config.noise_std)
    st.stop()


ANIMATION = "training_animation"
SNAPSHOTS = "training_snapshots"  # the animation's still version, for PNG and ZIP


@st.cache_resource(show_spinner=False, max_entries=256)
def result_figure(key: str, name: str, y_values: tuple, _result):
    """One figure of one result, built once for every session (keyed by config, status, y)."""
    if name == ANIMATION:
        return run.decoder_animation_figure(_result)
    if name == SNAPSHOTS:
        return run.decoder_snapshots_figure(_result)
    return run.model_figure(name, _result, y_values)


stem = (
    f"{config.prior}-prior_{config.posterior}-posterior_M{config.n_components}"
    f"_sigma{config.noise_std:g}_seed{config.seed}"
)
if result.diverged:
    st.error(
        f"**Training diverged at step {result.diverged_step}**: {result.diverged_reason}. "
        "Nothing learned after that point is meaningful, so no model figures are drawn. "
        + divergence_note(config)
    )
    finite = result.history.dropna(subset=["train_elbo"])
    if len(finite):
        st.line_chart(
            finite.set_index("step")["train_elbo"],
            x_label="training step",
            y_label="train ELBO before divergence",
        )
    st.stop()

outcome = convergence.outcome(
    result.status,
    result.history["validation_elbo"].dropna().tolist(),
    result.metrics.get("likelihood_gap_to_truth"),
)
gap = result.metrics.get("likelihood_gap_to_truth", float("nan"))
status_box, status_text = {
    convergence.CONVERGED: (
        st.success,
        f"converged after {result.steps_run} steps (the exact validation ELBO stopped improving)",
    ),
    convergence.COMPLETED: (
        st.success,
        f"ran all {result.steps_run} steps and had stopped improving (its last "
        f"{convergence.PATIENCE} evaluations gained less than {convergence.CAP_WARNING_GAIN} nats)",
    ),
    convergence.CAPPED_IMPROVING: (
        st.warning,
        f"**still improving at the cap** of "
        f"{result.steps_run} steps: not converged, its "
        "numbers may still move (raise the step budget)",
    ),
    convergence.POOR_OPTIMUM: (
        st.warning,
        f"**stuck in a poor optimum**: it stopped improving "
        f"after {result.steps_run} steps yet sits {gap:.3f} "
        "nats below the true test log-likelihood. More steps "
        "do not help (often the decoder stays flat); another "
        "seed usually does",
    ),
    convergence.STOPPED: (
        st.info,
        f"stopped by you after {result.steps_run} steps: a partial model, not cached",
    ),
}[outcome]
together = (
    f" (together with {result.ensemble_size - 1} other model(s) in one batch, which costs "
    "about as much as training this one alone)"
    if result.ensemble_size > 1
    else ""
)
status_box(f"{config.model_name}: {status_text}; training took {result.train_seconds:.1f} s{together}.")
with st.expander("Exact settings of this run"):
    st.json(config.to_dict())

# Explore: probe any y, pin a run and compare, the four live figures.
with view_slot if view_slot is not None else st.container():
    explored = live_view.explore(result)

figure_key = f"{config.key()}:{result.status}:{result.steps_run}"


def figure(name: str):
    return result_figure(figure_key, name, tuple(y_values), result)


def show_metrics(metrics: pd.DataFrame) -> None:
    st.markdown("**Metrics** (all exact, by quadrature)")
    ui.lecture_table_style()
    st.table(metrics.assign(value=metrics["value"].map(lambda v: f"{v:.4f}")).set_index("metric"))


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
}


def show_model_figure(name: str) -> None:
    ui.show_figure(figure(name), f"{stem}_{name}")
    if name in CAPTIONS:
        st.caption(CAPTIONS[name])


def show_animation() -> None:
    # On screen the animation; on paper (PNG, ZIP) the same snapshots as still lines.
    ui.show_figure(figure(ANIMATION), f"{stem}_{ANIMATION}", paper=figure(SNAPSHOTS))


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
    "Prior": lambda: live_view.show_prior(explored, f"{stem}_prior", key=live_view.runs_key(result)),
    "Training animation": show_animation,
}
assert tuple(details) == DETAIL_TABS
for tab, show in zip(
    st.tabs(DETAIL_TABS, key=ui.widget_key(PAGE, "details"), on_change="rerun"), details.values(), strict=True
):
    if tab.open:
        with tab:
            show()


def paper_figures() -> dict:
    """Every figure for the ZIP, built only when it is downloaded."""
    names = [*run.MODEL_FIGURES, SNAPSHOTS]
    return {
        **{name: figure(name) for name in names},
        "prior": live_view.prior_figure(live_view.runs_key(result), explored),
    }


ui.download_all(paper_figures, pd.concat([metrics, settings_rows(config)], ignore_index=True), stem)
