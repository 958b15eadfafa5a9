"""Where the posterior figures evaluate q(z|y) and p_θ(z|y) (vae_core.plots.ranges): one z-range
for both, used by the live view, the Posteriors tab and the Compare page alike."""

from __future__ import annotations

import pytest
from conftest import COMBINATION_IDS, COMBINATIONS

from vae_core import exact
from vae_core.plots import ranges


@pytest.mark.parametrize("combo", COMBINATIONS, ids=COMBINATION_IDS)
def test_the_z_range_holds_both_posteriors(short_runs, combo):
    model = short_runs[combo].model
    for y in (0.1, 1.0, -3.0):
        z = ranges.posterior_z_points(model, y, 2001)
        spacing = z[1] - z[0]
        assert model.posterior_density([y], z)[0, 0].sum().item() * spacing > 0.99
        assert exact.posterior(model, [y], z)[0, 0].sum().item() * spacing > 0.99
