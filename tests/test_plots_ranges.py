"""Where the posterior figures evaluate q(z|y) and p_θ(z|y) (vae_core.plots.ranges): one z-range
for both, used by the live view, the Posteriors tab and the Compare page alike."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import COMBINATION_IDS, COMBINATIONS

from vae_core import exact
from vae_core.paper import SHOWN_Y_VALUES
from vae_core.plots import compare, live, ranges, run


@pytest.mark.parametrize("combo", COMBINATIONS, ids=COMBINATION_IDS)
def test_the_z_range_holds_both_posteriors(short_runs, combo):
    model = short_runs[combo].model
    for y in (0.1, 1.0, -3.0):
        z = ranges.posterior_z_points(model, y, 2001)
        spacing = z[1] - z[0]
        assert model.posterior_density([y], z)[0, 0].sum().item() * spacing > 0.99
        assert exact.posterior(model, [y], z)[0, 0].sum().item() * spacing > 0.99


def _x_range(fig, name: str, panel: int = 0) -> tuple[float, float]:
    """The z-range of the panel-th trace whose name starts with `name`."""
    x = np.asarray([t for t in fig.data if t.name.startswith(name)][panel].x)
    return x[0], x[-1]


@pytest.mark.parametrize("combo", COMBINATIONS, ids=COMBINATION_IDS)
def test_the_live_view_and_the_posteriors_tab_draw_q_on_the_same_z_range(short_runs, combo):
    """The same q(z|y) is drawn on the same axis wherever it appears (they used to differ).

    Same up to float32 rounding: the tab evaluates the encoder on its four y at once, the live
    view on one, and a float32 matrix product may round differently in a batch (~1e-7)."""
    result = short_runs[combo]
    tab = run.posterior_figure(result, SHOWN_Y_VALUES)
    comparison = compare.compare_posteriors_figure({result.config.model_name: [result]}, SHOWN_Y_VALUES)
    for index, y in enumerate(SHOWN_Y_VALUES):
        live_range = _x_range(live.posterior_live_figure([live.shown_result(result)], y), "q(z|y)")
        assert _x_range(tab, "encoder q(z|y)", index) == pytest.approx(live_range, rel=1e-6), y
        assert _x_range(comparison, "encoder q(z|y)", index) == pytest.approx(live_range, rel=1e-6), y
