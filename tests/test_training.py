"""Training (vae_core.training): convergence, divergence, determinism, ensembles, callbacks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import COMBINATION_IDS, COMBINATIONS

import vae_core.training.ensemble as ensemble_module
from vae_core import TrainConfig, train, train_many
from vae_core.training import SNAPSHOT_U, SNAPSHOT_Z

HISTORY_COLUMNS = ["step", "train_elbo", "validation_elbo", "validation_log_likelihood"]
# docs/ground-truth.md: at σ = 0.1 p(y) is a smooth bump that every one of the four models can fit.
LIKELIHOOD_TOLERANCE = 0.05


def _assert_well_formed(result):
    assert list(result.history.columns) == HISTORY_COLUMNS
    assert len(result.history) == result.steps_run
    np.testing.assert_array_equal(result.history["step"], np.arange(1, result.steps_run + 1))
    assert result.snapshot_decoder.shape == (
        len(result.snapshot_steps),
        len(SNAPSHOT_Z),
    )
    assert result.snapshot_aligned.shape == (
        len(result.snapshot_steps),
        len(SNAPSHOT_U),
    )
    assert result.model.n_members == 1
    if not result.diverged:  # see test_a_diverged_run_keeps_no_snapshot_after_divergence
        assert np.all(result.snapshot_steps <= result.steps_run)
        assert result.snapshot_steps[-1] == result.steps_run


def _assert_finite_metrics(result):
    assert result.metrics, "a run that did not diverge must report metrics"
    bad = {k: v for k, v in result.metrics.items() if not math.isfinite(v)}
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.parametrize(("prior", "posterior"), COMBINATIONS, ids=COMBINATION_IDS)
def test_default_training_reaches_the_true_likelihood(default_results, prior, posterior):
    result = default_results[(prior, posterior)]
    assert result.status in ("completed", "converged"), result.diverged_reason
    assert result.diverged_step is None
    _assert_well_formed(result)
    _assert_finite_metrics(result)
    metrics = result.metrics
    gap = metrics["true_test_log_likelihood"] - metrics["test_log_likelihood"]
    assert abs(gap) < LIKELIHOOD_TOLERANCE, metrics
    # ELBO ≤ log p_θ(y) for every y. test_elbo averages 1000 y × 10 draws per component; its
    # per-draw sd is < 1 nat here (see test_model_exact), so its SE is < 0.01 nats: 5 SE.
    assert metrics["inference_gap"] > -0.05, metrics
    # The history's exact log-likelihood is evaluated on the validation set; it must be finite
    # wherever it was recorded, and the train ELBO finite at every step.
    assert np.all(np.isfinite(result.history["train_elbo"]))
    recorded = result.history["validation_log_likelihood"].dropna()
    assert len(recorded) >= 1 and np.all(np.isfinite(recorded))


@pytest.mark.slow
def test_same_config_and_seed_give_identical_results(default_results):
    first = default_results[("gaussian", "gaussian")]
    again = train(first.config)
    assert again.status == first.status and again.steps_run == first.steps_run
    pd.testing.assert_frame_equal(again.history, first.history, check_exact=True)
    np.testing.assert_array_equal(again.snapshot_decoder, first.snapshot_decoder)
    assert again.metrics == first.metrics
    state, original = again.model.state_dict(), first.model.state_dict()
    assert state.keys() == original.keys()
    for name in state:
        assert torch.equal(state[name], original[name]), name


@pytest.mark.slow
def test_ensemble_members_train_as_if_alone(default_results):
    """train_many over 3 seeds batches them as one ensemble; each member is its solo run, bit for
    bit, at every position of the batch (the app's default widths)."""
    configs = [TrainConfig(prior="mog", posterior="gaussian", seed=seed) for seed in (0, 1, 2)]
    together = train_many(configs)
    assert [r.config for r in together] == configs
    for config, member in zip(configs, together, strict=True):
        alone = default_results[("mog", "gaussian")] if config.seed == 0 else train(config)
        assert alone.config == config
        assert member.status == alone.status and member.steps_run == alone.steps_run
        _assert_finite_metrics(member)
        pd.testing.assert_frame_equal(member.history, alone.history, check_exact=True)
        assert member.metrics == alone.metrics
    # The seeds really are different models.
    assert len({r.metrics["test_log_likelihood"] for r in together}) == 3


def test_train_many_keeps_order_across_groups():
    configs = [
        TrainConfig(prior="gaussian", posterior="mog", steps=30, seed=1, early_stop=False),
        TrainConfig(prior="gaussian", posterior="gaussian", steps=30, seed=2, early_stop=False),
        TrainConfig(prior="gaussian", posterior="mog", steps=30, seed=3, noise_std=0.05, early_stop=False),
    ]
    results = train_many(configs)
    assert [r.config for r in results] == configs
    assert [r.model.posterior_kind for r in results] == ["mog", "gaussian", "mog"]
    assert results[2].model.noise_std.item() == pytest.approx(0.05)


def test_configs_of_one_ensemble_key_train_together():
    """train_many groups by TrainConfig.ensemble_key: a different lr or seed joins the ensemble,
    a different width does not."""
    base = TrainConfig(steps=10, early_stop=False)
    configs = [base, base.replace(lr=0.02, seed=1, steps=20), base.replace(hidden=16)]
    assert [r.ensemble_size for r in train_many(configs)] == [2, 2, 1]


def test_should_stop_ends_training_early_with_finite_metrics():
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 60

    config = TrainConfig(steps=2000)
    result = train(config, should_stop=should_stop)
    assert result.status == "stopped"
    assert result.steps_run == 60 < config.steps
    assert result.diverged_step is None
    _assert_well_formed(result)
    _assert_finite_metrics(result)


def test_on_progress_reports_increasing_steps():
    reports = []
    config = TrainConfig(steps=200, early_stop=False)
    result = train(config, on_progress=reports.append)
    steps = [report.step for report in reports]
    assert len(steps) >= 2 and all(b > a for a, b in zip(steps[:-1], steps[1:], strict=True))
    assert steps[-1] == result.steps_run == 200
    for report in reports:
        assert report.total_steps == config.steps
        assert report.configs == [config]
        np.testing.assert_array_equal(report.steps, np.arange(1, report.step + 1))
        assert report.train_elbo.shape == (report.step, 1)
        assert np.all(np.isfinite(report.train_elbo))
    np.testing.assert_array_equal(
        reports[-1].train_elbo[:, 0], result.history["train_elbo"].to_numpy(np.float32)
    )


# ----- divergence ---------------------------------------------------------------------------
#
# Within config.LIMITS a run does not reliably diverge: scales are bounded, Adam's steps are
# bounded by lr, so even lr = 10 with σ = 0.005 keeps every number finite for thousands of steps
# (it just fits badly). The realistic failure (a non-finite ELBO whose NaN gradients reach the
# weights) is therefore injected into chosen members at a chosen step.


def _poison(monkeypatch, bad_seeds, at_step):
    """From training step `at_step` on, the members with a seed in `bad_seeds` get a NaN ELBO
    and NaN gradients (members are named by seed: the engine re-stacks its ensemble whenever a
    member leaves, so a member's row changes)."""
    build_model = ensemble_module.build_model
    calls = {"training": 0}  # training steps of the run, counted across re-stacked models

    def build_poisoned_model(configs):
        model = build_model(configs)
        elbo = model.elbo
        bad_rows = [row for row, config in enumerate(configs) if config.seed in bad_seeds]

        def poisoned_elbo(y, noise):
            value = elbo(y, noise)
            if torch.is_grad_enabled():  # a training step, not an evaluation
                calls["training"] += 1
            if calls["training"] >= at_step and bad_rows:
                factor = torch.ones_like(value)
                factor[bad_rows] = math.nan
                value = value * factor
            return value

        model.elbo = poisoned_elbo
        return model

    monkeypatch.setattr(ensemble_module, "build_model", build_poisoned_model)


@pytest.mark.parametrize("at_step", [60, 90])  # 90: detected at step 100, an evaluation step
def test_a_diverged_run_is_reported_as_such(monkeypatch, at_step):
    _poison(monkeypatch, [0], at_step)
    result = train(TrainConfig(steps=300, early_stop=False))
    assert result.status == "diverged" and result.diverged
    assert result.diverged_step == at_step
    assert result.diverged_reason
    assert result.metrics == {}
    assert result.steps_run == at_step
    _assert_well_formed(result)


@pytest.mark.parametrize("at_step", [60, 90])
def test_a_diverged_run_keeps_no_snapshot_after_divergence(monkeypatch, at_step):
    _poison(monkeypatch, [0], at_step)
    result = train(TrainConfig(steps=300, early_stop=False))
    assert result.status == "diverged"
    assert np.all(result.snapshot_steps <= result.diverged_step), result.snapshot_steps
    assert np.all(np.isfinite(result.snapshot_decoder))


def test_a_diverged_member_leaves_the_rest_of_the_ensemble_intact(monkeypatch):
    configs = [TrainConfig(prior="mog", posterior="mog", steps=150, seed=s, early_stop=False) for s in (0, 1)]
    healthy = train(configs[1])
    _poison(monkeypatch, [0], 40)
    diverged, other = train_many(configs)
    assert diverged.status == "diverged" and diverged.metrics == {}
    assert other.status == healthy.status == "completed"
    assert other.metrics["test_log_likelihood"] == pytest.approx(
        healthy.metrics["test_log_likelihood"], abs=1e-3
    )
    assert np.all(np.isfinite(other.snapshot_aligned))


@pytest.mark.slow
def test_huge_learning_rate_never_reports_nan_metrics():
    """lr at its limit (10) with the smallest σ: either diverged with no metrics, or finite ones."""
    result = train(
        TrainConfig(posterior="mog", lr=10.0, noise_std=0.005, steps=30, n_test=50, early_stop=False)
    )
    if result.status == "diverged":
        assert result.metrics == {} and result.diverged_step is not None
    else:
        _assert_finite_metrics(result)


@pytest.mark.parametrize("posterior", ["gaussian", "mog"])
def test_a_huge_learning_rate_is_reported_as_diverged(posterior):
    """No poisoning: Adam at lr = 10 blows the ELBO up to ~−1e6 (finite, since scales are
    bounded); the explosion criterion must catch it, at its step, with no metrics or figures."""
    result = train(TrainConfig(posterior=posterior, noise_std=0.01, lr=10.0, steps=300))
    assert result.status == "diverged"
    assert 1 <= result.diverged_step <= 300
    assert "ELBO" in result.diverged_reason
    assert result.metrics == {}
    assert np.all(result.snapshot_steps <= result.diverged_step)


def test_a_sound_run_is_never_flagged_as_diverged_at_small_noise():
    """The explosion margin must not fire on the large early ELBO swings of a small σ."""
    result = train(TrainConfig(noise_std=0.005, steps=400))
    assert result.status in ("converged", "completed"), result.diverged_reason
