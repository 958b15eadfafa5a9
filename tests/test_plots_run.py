"""A finished run's figures (vae_core.plots.run): the prior against the aggregate posterior, and
the decoder over training, animated on screen and static on paper."""

from __future__ import annotations

import numpy as np

from vae_core.config import TrainConfig
from vae_core.plots import live, run
from vae_core.training import train


def test_prior_figure_draws_the_learned_components_and_the_aggregate(short_runs):
    for combo, n_components in ((("mog", "gaussian"), 10), (("gaussian", "gaussian"), 0)):
        fig = run.prior_figure([live.shown_result(short_runs[combo])])
        names = [t.name for t in fig.data]
        assert sum(n.startswith("prior's components") for n in names) == n_components
        assert "prior p(z)" in names and any(n.startswith("aggregate q(z)") for n in names)


def test_prior_figure_names_both_runs(short_runs):
    current = live.shown_result(short_runs[("mog", "gaussian")])
    pinned = live.shown_result(short_runs[("gaussian", "gaussian")], pinned=True)
    fig = run.prior_figure([current, pinned])
    names = " ".join(t.name for t in fig.data if t.showlegend is not False)
    assert current.label in names and pinned.label in names
    assert {t.line.dash for t in fig.data if pinned.label in t.name} == {"dash"}
    assert [a.text for a in fig.layout.annotations] == [current.short_label, pinned.short_label]


def test_animation_plays_slowly_and_the_paper_version_is_static(short_runs):
    result = short_runs[("gaussian", "gaussian")]
    animated = run.decoder_animation_figure(result)
    play = animated.layout.updatemenus[0].buttons[0].args[1]
    assert play["frame"]["duration"] >= 400
    assert len(animated.frames) == len(result.snapshot_steps)
    # The legend sits above the plot, clear of the play buttons and the slider below it.
    assert animated.layout.legend.y >= 1 and animated.layout.updatemenus[0].y < 0
    static = run.decoder_snapshots_figure(result, max_lines=4)
    assert not static.frames and not static.layout.updatemenus and not static.layout.sliders
    names = [t.name for t in static.data]
    assert names[0] == "ground truth f(u)"
    steps = result.snapshot_steps
    assert names[1] == f"step {steps[0]}" and names[-1] == f"step {steps[-1]}"
    assert len(names) == 1 + min(4, len(steps))


def test_the_animation_starts_at_step_0_with_snapshots_denser_early():
    result = train(TrainConfig(steps=300, early_stop=False, seed=2))
    steps = np.asarray(result.snapshot_steps)
    assert steps[0] == 0 and steps[-1] == result.steps_run
    early = np.sum(steps < 0.1 * steps[-1])
    late = np.sum(steps >= 0.9 * steps[-1])
    assert early >= 3 * max(late, 1), steps  # log-spaced at first, then at each evaluation
    fig = run.decoder_animation_figure(result)
    assert [frame.name for frame in fig.frames][0] == "0"


def test_each_animation_frame_has_its_own_y_range(short_runs):
    """An untrained decoder can span far more than f: its range must not flatten the later
    frames (one range for all was set by the early frames)."""
    import dataclasses

    result = short_runs[("gaussian", "gaussian")]
    aligned = np.array(result.snapshot_aligned, copy=True)
    aligned[0] *= 20  # a wild first frame
    fig = run.decoder_animation_figure(dataclasses.replace(result, snapshot_aligned=aligned))
    ranges = [frame.layout.yaxis.range for frame in fig.frames]
    for values, (low, high) in zip(aligned, ranges, strict=True):
        assert low <= min(values.min(), 0) and high >= max(values.max(), 0.25)
    first, last = ranges[0], ranges[-1]
    assert last[1] - last[0] < (first[1] - first[0]) / 5
    assert tuple(fig.layout.yaxis.range) == tuple(last)  # shown first: the final decoder
