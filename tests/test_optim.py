"""vae_core.training.optim: the hand-written Adam against torch.optim.Adam.

The hand-written Adam is the one place where a silent departure would change every number, so
it is checked against torch.optim.Adam on the project's own training path: one member (MoG prior
+ MoG posterior, so every kind of parameter), 100 steps of `Ensemble.step` with the app's cosine
schedule spanning them. The gradients the project's step computed are recorded and replayed into
torch.optim.Adam, so the two optimisers see the same gradient sequence and may differ only by
float32 round-off, not by the training dynamics amplifying it.

The two are algebraically identical but not bit-identical: torch updates the first moment with
`lerp_` (m + (1 − β1)(g − m)) where the project computes β1·m + (1 − β1)·g, and torch applies
the step as p + (−s)·(m / d) (`addcdiv_`) where the project computes p − (m·s) / d. The second
moment is the same two ops in the same order (`mul_`, `addcmul_`) and comes out bit-identical.
The tolerance is a first-order running error bound (below), evaluated on the run's own values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

import vae_core.training.ensemble as ensemble_module
from vae_core import TrainConfig
from vae_core.training.member import Member, build_model
from vae_core.training.optim import ADAM_BETAS, ADAM_EPS

UNIT_ROUNDOFF = 2.0**-24  # float32, round to nearest: fl(x) = x(1 + δ), |δ| ≤ u
STEPS = 100
# steps = STEPS: the cosine goes all the way from lr to lr/100 within the compared steps.
CONFIG = TrainConfig(prior="mog", posterior="mog", steps=STEPS, early_stop=False)


@dataclass
class ProjectStep:
    """One step of the project's Adam: its inputs and the state it left (first `size` columns)."""

    grad: torch.Tensor
    step: int
    lr: float
    flat: torch.Tensor
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor


@dataclass
class ProjectRun:
    initial_weights: dict[str, torch.Tensor]
    steps: list[ProjectStep]


@pytest.fixture(scope="module")
def project_run() -> ProjectRun:
    """STEPS steps of one member through Ensemble.step, recording what adam_step received."""
    member = Member(CONFIG)
    initial = {k: v.clone() for k, v in member.checkpoint.weights.items()}
    ensemble = ensemble_module.Ensemble(CONFIG.ensemble_key())
    ensemble.add(member)
    calls: list[tuple[torch.Tensor, int, float]] = []
    real_adam_step = ensemble_module.adam_step

    def recording_adam_step(flat, exp_avg, exp_avg_sq, grad, steps, lrs):
        calls.append((grad.clone(), steps[0], lrs[0]))
        real_adam_step(flat, exp_avg, exp_avg_sq, grad, steps, lrs)

    recorded = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ensemble_module, "adam_step", recording_adam_step)
        for _ in range(STEPS):
            ensemble.step()
            grad, step, lr = calls[-1]
            size = ensemble.size
            state = [t[0, :size].clone() for t in (ensemble.flat, ensemble.exp_avg, ensemble.exp_avg_sq)]
            recorded.append(ProjectStep(grad[0, :size], step, lr, *state))
    assert member.step == STEPS and member.status == "completed"
    return ProjectRun(initial, recorded)


def replay_in_torch_adam(
    run: ProjectRun, lrs: list[float], betas=ADAM_BETAS, eps=ADAM_EPS
) -> list[tuple[torch.Tensor, ...]]:
    """torch.optim.Adam fed the project's gradients at the given lrs: (params, m, v) per step, flat
    in the order of VAE.parameters() (the order of the project's flat buffer)."""
    model = build_model([CONFIG])
    model.load_state_dict(run.initial_weights)
    params = list(model.parameters())
    optimiser = torch.optim.Adam(params, lr=lrs[0], betas=betas, eps=eps)
    states = []
    for project_step, lr in zip(run.steps, lrs, strict=True):
        offset = 0
        for param in params:
            n = param.numel()
            param.grad = project_step.grad[offset : offset + n].reshape(param.shape).clone()
            offset += n
        optimiser.param_groups[0]["lr"] = lr
        optimiser.step()
        state = optimiser.state
        states.append(
            tuple(
                torch.cat([t.detach().reshape(-1) for t in tensors])
                for tensors in (
                    params,
                    [state[p]["exp_avg"] for p in params],
                    [state[p]["exp_avg_sq"] for p in params],
                )
            )
        )
    return states


def running_error_bounds(run: ProjectRun) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per step, elementwise bounds on |project − torch| for (params, m, v), to first order in u.

    Each rounded op contributes ≤ u of its result; two implementations differ by at most the sum
    of both errors. With β1, 1 − β1, the bias corrections and s = lr / (1 − β1^t) themselves
    rounded to float32 (one u each, counted in the constants):
      m = β1 m' + (1 − β1) g: ≤ 4u (β1|m'| + (1 − β1)|g|) each (lerp: subtract, two multiplies,
        add; the project: two multiplies, add, plus the coefficients' rounding), and the
        previous difference decays by β1;
      v likewise: ≤ 3u (β2 v' + (1 − β2) g²) each (multiply, multiply-add, coefficients);
      d = sqrt(v)/c + ε: sqrt, divide, add and c's rounding, 4u·d each; a difference V in v
        moves sqrt(v) by ≤ min(V / (2 sqrt v), sqrt V);
      x = s·m/d: 3u|x| each, plus s (M/d + |m| D/d²) from the differences M, D of m and d;
      p − x: u|p| each; the parameter difference accumulates the step differences.
    The neglected terms are of order u² relative: below 1e-13 of the bound here.
    """
    u = UNIT_ROUNDOFF
    beta1, beta2 = ADAM_BETAS
    zeros = torch.zeros_like(run.steps[0].flat, dtype=torch.float64)
    m_prev, v_prev = zeros, zeros
    m_bound, v_bound, p_bound = zeros, zeros, zeros
    bounds = []
    for s in run.steps:
        g, m, v, p = (t.double() for t in (s.grad, s.exp_avg, s.exp_avg_sq, s.flat))
        m_bound = beta1 * m_bound + 8 * u * (beta1 * m_prev.abs() + (1 - beta1) * g.abs())
        v_bound = beta2 * v_bound + 6 * u * (beta2 * v_prev + (1 - beta2) * g**2)
        root_bias2 = math.sqrt(1 - beta2**s.step)
        step_size = s.lr / (1 - beta1**s.step)
        denom = v.sqrt() / root_bias2 + ADAM_EPS
        root_shift = torch.minimum(v_bound / (2 * v.sqrt()).clamp_min(1e-300), v_bound.sqrt())
        d_bound = root_shift / root_bias2 + 8 * u * denom
        update = step_size * m.abs() / denom
        x_bound = step_size * (m_bound / denom + m.abs() * d_bound / denom**2) + 6 * u * update
        p_bound = p_bound + x_bound + 2 * u * p.abs()
        bounds.append((p_bound, m_bound, v_bound))
        m_prev, v_prev = m, v
    return bounds


def worst_excess(run: ProjectRun, torch_states, bounds) -> float:
    """The largest |project − torch| / bound over every element, step and state (≤ 1: agrees)."""
    worst = 0.0
    for s, torch_state, bound in zip(run.steps, torch_states, bounds, strict=True):
        for mine, theirs, limit in zip((s.flat, s.exp_avg, s.exp_avg_sq), torch_state, bound, strict=True):
            difference = (mine.double() - theirs.double()).abs()
            # 0/0 where both are exact (e.g. the step-1 moments): no excess.
            ratio = torch.where(difference > 0, difference / limit.clamp_min(1e-300), 0.0)
            worst = max(worst, ratio.max().item())
    return worst


def test_the_hand_written_adam_matches_torch_adam_to_float32_round_off(project_run):
    lrs = [s.lr for s in project_run.steps]
    torch_states = replay_in_torch_adam(project_run, lrs)
    bounds = running_error_bounds(project_run)
    assert worst_excess(project_run, torch_states, bounds) <= 1.0
    # And the bound is tight enough to mean something: Adam moves a parameter by about lr per
    # step at most, so by Σ lr over the run; the bound is far below that (here ~4e-5 of it).
    assert bounds[-1][0].max().item() < 1e-4 * sum(lrs)


def test_the_learning_rates_are_the_apps_cosine_schedule(project_run):
    lrs = [s.lr for s in project_run.steps]
    assert [s.step for s in project_run.steps] == list(range(1, STEPS + 1))
    assert lrs[0] == CONFIG.lr
    assert lrs[-1] == pytest.approx(CONFIG.lr / 100, rel=1e-12)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


def test_the_second_moment_is_bit_identical_to_torch_adam(project_run):
    """Same ops in the same order (mul_ by β2, addcmul_ with 1 − β2) on the same gradients."""
    torch_states = replay_in_torch_adam(project_run, [s.lr for s in project_run.steps])
    for s, (_, _, torch_v) in zip(project_run.steps, torch_states, strict=True):
        assert torch.equal(s.exp_avg_sq, torch_v), f"step {s.step}"


@pytest.mark.parametrize(
    "departure",
    ["lr one step late", "beta2 0.99", "eps 1e-6"],
)
def test_the_comparison_catches_a_departure_from_adam(project_run, departure):
    """Each is a plausible slip in an Adam: the bound must be far too tight for it to pass."""
    lrs = [s.lr for s in project_run.steps]
    betas, eps = ADAM_BETAS, ADAM_EPS
    if departure == "lr one step late":
        lrs = [lrs[0], *lrs[:-1]]
    elif departure == "beta2 0.99":
        betas = (ADAM_BETAS[0], 0.99)
    else:
        eps = 1e-6
    torch_states = replay_in_torch_adam(project_run, lrs, betas=betas, eps=eps)
    assert worst_excess(project_run, torch_states, running_error_bounds(project_run)) > 10.0
