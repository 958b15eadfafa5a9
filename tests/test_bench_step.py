"""benchmarks/bench_step.py: its FLOP counter against torch's own, and its RESULTS.md section."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.bench_step import (
    MODEL_TYPES,
    SECTION_HEADING,
    StepShapes,
    forward_matmul_flops,
    heavy_config,
    step_flops,
    tanh_elements,
    with_section,
)
from benchmarks.bench_train_report import KEPT_SECTIONS
from vae_core.training.member import build_model


def test_the_heavy_models_step_counted_by_hand():
    shapes = StepShapes.of(heavy_config("mog", "mog"))
    assert (shapes.batch, shapes.z_per_y, shapes.hidden, shapes.encoder_out) == (100, 10, 50, 20)
    encoder = 2 * 100 * (1 * 50 + 50 * 50 + 50 * 20)  # on the 100 y
    decoder = 2 * 1000 * (1 * 50 + 50 * 50 + 50 * 1)  # on the 100 × 10 z
    assert forward_matmul_flops(shapes) == encoder + decoder == 5_910_000
    assert step_flops(shapes) == 3 * 5_910_000
    assert tanh_elements(shapes) == 2 * 50 * (100 + 1000)


@pytest.mark.parametrize(("name", "prior", "posterior"), MODEL_TYPES, ids=[m[0] for m in MODEL_TYPES])
def test_the_count_agrees_with_torchs_flop_counter_on_the_real_step(name, prior, posterior):
    """torch's FlopCounterMode counts the bmm and baddbmm of the model's ELBO and its gradient.
    It does not count the first layers (one input unit: an elementwise outer product, addcmul),
    so those are taken out of the count; the rest must be exactly 3× forward. Two members, so
    that no layer takes the lone member's paired path (vae_core.model.batched_affine)."""
    config = heavy_config(prior, posterior)
    shapes = StepShapes.of(config)
    model = build_model([config, config.replace(seed=1)])
    y = torch.rand(2, shapes.batch)
    noise = torch.randn(2, shapes.batch, shapes.z_per_y)
    with FlopCounterMode(display=False) as counter:
        elbo = model.elbo(y, noise).mean(dim=1)
        torch.autograd.grad(-elbo.sum(), list(model.parameters()))
    first_layers = 2 * shapes.hidden * (shapes.batch + shapes.decoder_rows)
    assert counter.get_total_flops() == 2 * 3 * (forward_matmul_flops(shapes) - first_layers)


def test_the_section_is_replaced_in_place_and_kept_by_bench_train():
    old = f"# Results\n\n## Speed\n\nold 1\n\n{SECTION_HEADING} (x)\n\nstale 2\n\n## Other\n\nkept 3\n"
    new = with_section(old, f"{SECTION_HEADING} (x)\n\nfresh 4\n")
    assert "stale 2" not in new and "fresh 4" in new
    assert new.index("old 1") < new.index("fresh 4") < new.index("kept 3")
    appended = with_section("# Results\n", f"{SECTION_HEADING}\n\nfresh 5\n")
    assert appended == f"# Results\n\n{SECTION_HEADING}\n\nfresh 5\n"
    assert any(SECTION_HEADING.startswith(h) or h.startswith(SECTION_HEADING) for h in KEPT_SECTIONS)
