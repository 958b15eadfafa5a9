"""Compare (paper): the paper's three models (and the fourth combination) over several seeds,
its Figures 2–4, and its claims C1–C5 checked with numbers."""

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import charts, service_client
from dashboard.training_panel import training_panel
from dashboard.url_state import (
    Param,
    lecture_mode,
    load_page_state,
    page_value,
    save_page_state,
    show_warnings,
    widget_key,
)
from vae_core import claims, convergence
from vae_core.config import APP_RANGES, LABELS, NOISE_LEVELS
from vae_core.metrics import METRIC_INFO
from vae_core.paper import (
    DEFAULT_SEEDS,
    PAPER_N_COMPONENTS,
    PAPER_NOISE_STD,
    PRESET_NOISE_STDS,
    comparison_configs,
)

PAGE = "compare"
PARAMS = {
    "noise": Param(PAPER_NOISE_STD, choices=NOISE_LEVELS),
    # From 2: with M = 1 the mixture models would be their Gaussian counterparts.
    "M": Param(PAPER_N_COMPONENTS, low=2, high=APP_RANGES["n_components"][1]),
    "seeds": Param(len(DEFAULT_SEEDS), low=3, high=len(DEFAULT_SEEDS)),
    "fourth": Param(True),
}
# A verdict as a badge. "Does not hold" is a finding, not an error of the app: neutral grey.
VERDICT_BADGE = {
    claims.HOLDS: ":green-badge[:material/check_circle: holds]",
    claims.FAILS: ":gray-badge[:material/cancel: does not hold]",
    claims.PARTLY: ":orange-badge[:material/rule: partly holds]",
    claims.UNDECIDED: ":blue-badge[:material/balance: undecided: within noise]",
    claims.UNKNOWN: ":gray-badge[:material/help: cannot be checked]",
}
CLAIMS_LEGEND = (
    "How to read a verdict: **✓ yes** when the mean over the seeds and its whole 95 % interval "
    "are on the paper's side, **✗ no** when they are wholly on the other side, **≈ too close to "
    "call** when the interval reaches both (more seeds could decide; a tie is never read as "
    '"no"). A claim holds when every part does, partly holds when some do and some do not.'
)
VERDICT_COUNT = {  # (one claim, several claims)
    claims.HOLDS: ("holds", "hold"),
    claims.FAILS: ("does not hold", "do not hold"),
    claims.PARTLY: ("partly holds", "partly hold"),
    claims.UNDECIDED: ("is undecided: within noise", "are undecided: within noise"),
    claims.UNKNOWN: ("cannot be checked", "cannot be checked"),
}
FIGURE_CAPTIONS = {
    "decoders": "Decoders on the true latent's scale, u = F_prior(z): the truth f(u) is black. "
    "A decoder can match f's law (p(y)) while differing from f(u) beyond f's "
    "symmetries (claim C5).",
    "generated_y": "The model's exact p_θ(y), i.e. the distribution of the y it generates, "
    "against the true p(y).",
    "posteriors": "Encoder q(z|y) (solid) and the model's exact posterior p_θ(z|y) (olive, dashed) at "
    "the paper's y = 1, 0.2, 0.05 and −3 (1 and −3 lie outside the data).",
    "training_curves": "The exact ELBO (lines) and exact log p_θ(y) (dots) of every model and "
    "seed on the same validation y, zoomed on where the runs end up; the "
    "gap between a line and its dots is that run's inference gap. A run "
    "that ends early has converged (the stopping rule).",
}

st.title("Compare the models (the paper's Figures 2–4)")
st.markdown(
    "The MFG-VAE, the MoG posterior and the MoG prior trained on the same data with several "
    "seeds each, drawn side by side, with the paper's claims checked against the exact numbers. "
    "(MFG: mean-field Gaussian, a Gaussian q(z|y); MoG: mixture of Gaussians.)"
)
show_warnings(load_page_state(PAGE, PARAMS))


def use_preset(noise_std: float) -> None:
    st.session_state[widget_key(PAGE, "noise")] = noise_std
    st.session_state[widget_key(PAGE, "M")] = PAPER_N_COMPONENTS
    st.session_state[widget_key(PAGE, "seeds")] = len(DEFAULT_SEEDS)


with st.expander("Controls", expanded=not lecture_mode()):
    noise_col, components_col, seeds_col, fourth_col = st.columns([1, 1, 1, 1.2])
    noise_col.select_slider(
        LABELS["noise_std"],
        NOISE_LEVELS,
        key=widget_key(PAGE, "noise"),
        help=f"σ = {PAPER_NOISE_STD:g} is the paper's. At smaller σ, p(y) has "
        "sharp edges and the models separate far more.",
    )
    components_col.slider(
        LABELS["n_components"],
        PARAMS["M"].low,
        PARAMS["M"].high,
        key=widget_key(PAGE, "M"),
        help=f"For whichever of prior and posterior is a mixture (paper: {PAPER_N_COMPONENTS}).",
    )
    seeds_col.slider(
        "Seeds per model",
        PARAMS["seeds"].low,
        PARAMS["seeds"].high,
        key=widget_key(PAGE, "seeds"),
        help="Every claim is decided from the mean over seeds and its 95 % "
        "interval: more seeds, narrower intervals.",
    )
    fourth_col.checkbox(
        "Add MoG prior + MoG posterior",
        key=widget_key(PAGE, "fourth"),
        help="The fourth combination of prior and posterior: not in the paper.",
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Pre-trained, open instantly:")
        for noise_std in PRESET_NOISE_STDS:
            st.button(
                f"σ = {noise_std:g}, M = {PAPER_N_COMPONENTS}, {len(DEFAULT_SEEDS)} seeds",
                on_click=use_preset,
                args=(noise_std,),
                key=f"compare.preset.{noise_std:g}",
            )
save_page_state(PAGE, PARAMS)

noise_std = page_value(PAGE, "noise")
n_components = page_value(PAGE, "M")
n_seeds = page_value(PAGE, "seeds")
configs = comparison_configs(
    noise_std, n_components, seeds=tuple(range(n_seeds)), include_fourth=page_value(PAGE, "fourth")
)
example = next(iter(configs.values()))[0]
st.caption(
    f"Settings of every figure and number below: σ = {noise_std:g}, M = {n_components}, seeds "
    f"0–{n_seeds - 1}; {example.n_train} training y (data seed {example.data_seed}), MLPs "
    f"1 → {example.hidden} → {example.hidden} → out, Adam at lr {example.lr:g} decayed to "
    f"{example.lr * convergence.FINAL_LR_FRACTION:g}, minibatches of {example.batch_size}, at "
    f"most {example.steps} steps (the budget for σ = {noise_std:g}) with early stopping."
)

service = service_client.training_service()
results = {name: [service.lookup(c) for c in model_configs] for name, model_configs in configs.items()}
missing = [
    c
    for name, model_configs in configs.items()
    for c, result in zip(model_configs, results[name], strict=True)
    if result is None
]


def train_missing(missing: list, total: int) -> None:
    """Offer to train what is missing; the panel draws progress until it has been trained."""
    st.info(
        f"{len(missing)} of {total} trained models for these settings are missing. "
        f"Pre-trained: σ ∈ {{{', '.join(f'{s:g}' for s in PRESET_NOISE_STDS)}}}, "
        f"M = {PAPER_N_COMPONENTS}, "
        f"{len(DEFAULT_SEEDS)} seeds.",
        icon=":material/hourglass_empty:",
    )
    st.caption(
        "Training runs on the server's training service and continues if you leave "
        "this page; other visitors asking for the same models join it."
    )
    partial = training_panel(PAGE, missing, label="Train missing models")
    if any(r is not None and r.status == "stopped" for r in partial):
        st.warning(
            "Training was stopped. Stopped (partial) models are not shown here: the "
            "comparison only uses fully trained models. Train again to finish them."
        )


if missing:
    train_missing(missing, sum(len(c) for c in configs.values()))
    st.stop()


@dataclass
class ComparisonView:
    table: pd.DataFrame
    per_seed: pd.DataFrame
    verdicts: list
    figures: dict


def comparison_view(keys: tuple, stem: str, results: dict) -> ComparisonView:
    """Numbers and figures of one comparison, built once for every session (`keys` names it:
    each result's config key, status and length, so a replaced result is never served stale)."""

    def build() -> ComparisonView:
        # named f"{stem}_{kind}" for the PNG and ZIP downloads; kinds as in FIGURE_CAPTIONS
        built = {f"{stem}_{kind}": fig for kind, fig in charts.comparison_figures(results).items()}
        return ComparisonView(
            claims.metrics_summary(results),
            claims.metrics_per_seed(results),
            claims.check_claims(results),
            built,
        )

    with st.spinner("Drawing the comparison…"):
        return charts.shared(("comparison", keys, stem), build)


stem = f"compare_sigma{noise_std:g}_M{n_components}_{n_seeds}seeds"
keys = tuple((r.config.key(), r.status, r.steps_run) for rs in results.values() for r in rs)
view = comparison_view(keys, stem, results)

diverged = [r for rs in results.values() for r in rs if r.diverged]
if diverged:
    st.warning(
        "Diverged runs (not drawn, not counted in any mean):\n"
        + "\n".join(
            f"- {r.config.model_name}, seed {r.config.seed}: stopped at step "
            f"{r.diverged_step} ({r.diverged_reason or 'no reason recorded'})"
            for r in diverged
        ),
        icon=":material/warning:",
    )

outcomes = [
    (
        r,
        convergence.outcome(
            r.status, r.history["validation_elbo"].dropna().tolist(), r.metrics.get("likelihood_gap_to_truth")
        ),
    )
    for rs in results.values()
    for r in rs
    if not r.diverged
]
capped = [r for r, o in outcomes if o == convergence.CAPPED_IMPROVING]
stuck = [r for r, o in outcomes if o == convergence.POOR_OPTIMUM]
if capped:
    st.warning(
        "Still improving when the step budget ran out (not converged; their numbers may "
        "still move): " + ", ".join(f"{r.config.model_name} seed {r.config.seed}" for r in capped),
        icon=":material/hourglass_bottom:",
    )
if stuck:
    st.info(
        "**Stuck in a poor optimum** (a failure mode worth a look): these runs stopped "
        "improving yet sit more than "
        f"{convergence.POOR_OPTIMUM_GAP} nats below the true test log-likelihood: "
        + ", ".join(
            f"{r.config.model_name} seed {r.config.seed} "
            f"({r.metrics['likelihood_gap_to_truth']:.2f} nats short)"
            for r in stuck
        )
        + ". More steps do not help; another seed usually does.",
        icon=":material/landscape:",
    )

st.subheader("Metrics")
charts.lecture_table_style()
st.table(view.table.set_index("metric"))
st.caption(
    "mean ± sample standard deviation over the seeds that did not diverge. The CSV "
    "below has every seed's raw numbers."
)
with st.expander("What the metrics mean"):
    st.markdown(
        "\n".join(
            f"- **{label}**: {meaning}"
            for label, meaning in METRIC_INFO.values()
            if label in set(view.table["metric"])
        )
    )

st.subheader("The paper's claims, checked")
st.caption(CLAIMS_LEGEND)
counts = {word: sum(v.verdict == word for v in view.verdicts) for word in VERDICT_BADGE}
st.markdown(
    f"With σ = {noise_std:g}, M = {n_components} and {n_seeds} seeds per model, of the "
    "paper's five claims "
    + ", ".join(f"**{n} {VERDICT_COUNT[word][n > 1]}**" for word, n in counts.items() if n)
    + "."
)
for verdict in view.verdicts:
    with st.container(border=True):
        st.markdown(f"**{verdict.id}** {VERDICT_BADGE[verdict.verdict]}")
        st.markdown(verdict.plain_summary(n_seeds))
        with st.expander(f"{verdict.id}: the evidence, with its numbers"):
            st.markdown(
                f"*{verdict.claim}*\n\n" + "\n".join(f"- {sentence}" for sentence in verdict.evidence)
            )
with st.expander("How the verdicts are decided"):
    st.markdown(
        "Each claim is split into parts, each a number per seed, or a difference between two "
        "models on the same seed (every model sees the same data and seeds). A part is "
        "decided by the mean over the usable seeds and its 95 % confidence interval "
        "(mean ± t · standard error): **✓ holds** when the whole interval lies on the claimed "
        "side of the part's threshold (for a difference between models: beyond 0, by at least "
        "the smallest difference that matters), **✗ does not hold** when it lies wholly on the "
        "other side, and **≈ undecided: within noise** otherwise. A tie is never read as a "
        "failure. A claim holds when every part holds, does not hold when one fails and none "
        "holds, and partly holds when some hold and some fail. Thresholds are quoted in each "
        "sentence and explained in docs/claims.md. The paper judged one seed per model by eye."
    )


st.subheader("Figures")
st.caption(
    "One colour per model, one line style per seed: "
    + ", ".join(f"seed {seed} {charts.seed_line_style(seed)}" for seed in range(n_seeds))
    + "."
)
for kind, caption in FIGURE_CAPTIONS.items():
    charts.show_figure(view.figures[f"{stem}_{kind}"], f"{stem}_{kind}")
    st.caption(caption)  # under its figure, as on the Train page
charts.download_all(lambda: view.figures, view.per_seed, stem)
