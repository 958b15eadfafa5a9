"""The training panel of a page: its Train button, the progress of this session's requests,
and the words for how a finished run ended.

While anything trains, a fragment redraws the status text, the progress bar and the figures
every PROGRESS_EVERY s (not the whole page), and the whole page reruns once all have finished,
so a waiting session costs the server one small redraw, not a loop. The buttons that act on
the run (live_controls) are drawn outside that fragment.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import charts, explore, live_controls, service_client
from vae_core import convergence
from vae_core.config import TrainConfig
from vae_core.training import TrainResult

# s between redraws of a training panel: quick while the server is quiet (a lone student sees
# the model as soon as it is ready), slower when a class trains (each redraw builds a live
# chart, ~10 ms of the server's time per session).
PROGRESS_EVERY = 0.25
PROGRESS_EVERY_BUSY = 2.0
RESTING = (
    "The training curve rests while the class server is busy, so that every model trains fast; "
    "it returns when it is quieter."
)


def training_panel(
    slot: str, configs: list[TrainConfig], label: str = "Train", help: str | None = None, live: bool = False
) -> list[TrainResult | None]:
    """Train button, queue/progress display with Stop, and this session's results for `configs`.

    Returns each config's result this session obtained (done, failed-free; a stopped run's
    partial model included), or None where there is none yet.

    live: one config, drawn with the live view (the Train page's decoder, p(y) and posterior as
    the model learns) and its Pause / Step / Resume controls, instead of the ELBO chart alone.
    """
    statuses = service_client.statuses(slot, configs)
    results = [s.result if s is not None and s.state == "done" else None for s in statuses]
    if any(service_client.is_active(s) for s in statuses):
        live_controls.stop_button(slot, configs)
        bar = st.empty()
        counter = live_controls.run_controls(slot, statuses[0]) if live else None
        progress = _progress_busy if service_client.server_busy() else _progress_quick
        progress(slot, configs, bar, counter)
        return results
    for status in statuses:
        if status is not None and status.state == "failed":
            st.error(status.message, icon=":material/error:")
    busy = service_client.busy_message(slot)
    if busy:
        st.warning(busy, icon=":material/hourglass_top:")
    st.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        on_click=service_client.submit,
        args=(slot, configs),
        key=f"train.{slot}",
        help=help,
    )
    return results


@st.fragment(run_every=PROGRESS_EVERY)
def _progress_quick(slot, configs, bar, counter) -> None:
    _progress(slot, configs, bar, counter)


@st.fragment(run_every=PROGRESS_EVERY_BUSY)
def _progress_busy(slot, configs, bar, counter) -> None:
    _progress(slot, configs, bar, counter)


def _progress(
    slot: str, configs: list[TrainConfig], bar: DeltaGenerator, counter: DeltaGenerator | None
) -> None:
    """The progress bar with the service's message (queue, ensemble, time left) into `bar`, and
    the live ELBO, or the live view with its step counter (into `counter`)."""
    statuses = [s for s in service_client.statuses(slot, configs) if s is not None]
    if not any(service_client.is_active(s) for s in statuses):
        st.rerun()  # everything finished: the whole page draws the results
    active = [s for s in statuses if service_client.is_active(s)]
    done = sum(min(s.step, s.max_steps) for s in statuses)
    total = sum(s.max_steps for s in statuses) or 1
    lead = active[0]
    text = (
        lead.message
        if len(statuses) == 1
        else (f"{len(statuses) - len(active)} of {len(statuses)} models done. {lead.message}")
    )
    # While a class trains, charts redrawn in every student's page would take the cores (the
    # server's and the browsers') that train their models: the progress bar alone then.
    elbo = None if service_client.server_busy() else charts.live_elbo(statuses)
    if counter is None:
        bar.progress(min(done / total, 1.0), text=text)
        if elbo is not None:
            charts.progress_chart(elbo)
        else:
            st.caption(RESTING)
        return
    status = statuses[0]
    rest = explore.resting(status)
    if explore.live_figures_wanted() and not rest:
        status = service_client.live_status(slot, status)
    if live_controls.outdated(slot, status):
        st.rerun()  # paused or resumed: the whole page redraws the controls (Pause ↔ Resume)
    bar.progress(min(done / total, 1.0), text=text)
    live_controls.show_counter(counter, status)
    explore.training_view(status, elbo, rest)


# ----- how a finished run ended --------------------------------------------------------------


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


def show_divergence(result: TrainResult) -> None:
    """A diverged run: where and why, and its training curve up to there (no model figures)."""
    st.error(
        f"**Training diverged at step {result.diverged_step}**: {result.diverged_reason}. "
        "Nothing learned after that point is meaningful, so no model figures are drawn. "
        + divergence_note(result.config)
    )
    finite = result.history.dropna(subset=["train_elbo"])
    if len(finite):
        st.line_chart(
            finite.set_index("step")["train_elbo"],
            x_label="training step",
            y_label="train ELBO before divergence",
        )


def show_outcome(result: TrainResult, pretrained: bool = False) -> None:
    """The run's status box: converged, completed, still improving, stuck, or stopped.

    pretrained: a preset shipped with the app, so the box says nothing trained now (it said
    "training took 3.6 s" as if it had) and how long its training took when it was made."""
    outcome = convergence.outcome(
        result.status,
        result.history["validation_elbo"].dropna().tolist(),
        result.metrics.get("likelihood_gap_to_truth"),
    )
    gap = result.metrics.get("likelihood_gap_to_truth", float("nan"))
    status_box, status_text = {
        convergence.CONVERGED: (
            st.success,
            f"converged after {result.steps_run} steps (the exact validation ELBO stopped improving"
            + (f"; {caveat})" if (caveat := convergence.converged_caveat(result.config.noise_std)) else ")"),
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
    took = f"training took {result.train_seconds:.1f} s{together}"
    if pretrained:
        took = f"pre-trained, shipped with the app: nothing trains now (its {took} when it was made)"
    status_box(f"{result.config.model_name}: {status_text}; {took}.")
