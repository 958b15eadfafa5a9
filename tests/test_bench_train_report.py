"""benchmarks/bench_train_report.py: the report's sections, and the rewrite of RESULTS.md that keeps the
sections other benchmarks wrote."""

from benchmarks.bench_train_report import KEPT_SECTIONS, Measurements, build_report, with_kept_sections
from benchmarks.paper_comparison import label, paper_configs


def test_rewrite_keeps_the_class_section_and_drops_the_old_measurements(tmp_path):
    old = (
        "# Training benchmark\n\n## Speed\n\nold numbers 19.67\n\n"
        f"{KEPT_SECTIONS[0]} (benchmarks/bench_class.py)\n\nclass table 42\n\n### detail\n\nmore 7\n\n"
        "## Verdict\n\nold verdict\n"
    )
    path = tmp_path / "RESULTS.md"
    path.write_text(old)
    new = with_kept_sections("# Training benchmark\n\n## Speed\n\nnew numbers 4.05\n", path)
    assert "new numbers 4.05" in new
    assert "old numbers" not in new and "old verdict" not in new
    assert f"{KEPT_SECTIONS[0]} (benchmarks/bench_class.py)\n\nclass table 42\n\n### detail\n\nmore 7" in new
    assert new.index("new numbers") < new.index("class table")


def test_first_run_without_a_results_file(tmp_path):
    assert with_kept_sections("# report\n", tmp_path / "missing.md") == "# report\n"


def synthetic_measurements() -> Measurements:
    """Measurements shaped like the workers' JSON: every reference model 0.001 below the truth."""
    labels = [label(config) for config in paper_configs()]
    truth = 0.65

    def reference() -> dict:
        models = [
            {"label": name, "steps": 1500, "train_seconds": 1.5, "test_log_likelihood": truth - 0.001}
            for name in labels
        ]
        return {
            "wall_seconds": 16.0,
            "cpu_seconds": 15.0,
            "models": models,
            "baseline_rss_mb": 420.0,
            "peak_rss_mb": 480.0,
            "vae_core": "abc",
        }

    def project() -> dict:
        models = [
            {"label": name, "steps": 1800, "status": "converged", "test_log_likelihood": truth + 0.001}
            for name in labels
        ]
        groups = [{"model": f"type {i}", "steps": 1800, "loop_seconds": 4.0} for i in range(3)]
        return {
            "wall_seconds": 8.0,
            "cpu_seconds": 14.0,
            "models": models,
            "groups": groups,
            "baseline_rss_mb": 500.0,
            "peak_rss_mb": 510.0,
            "vae_core": "abc",
        }

    parts = {
        "final metrics (metrics.evaluate, 9 models)": 1.4,
        "  of which kl_marginal": 0.2,
        "  of which ground_truth.log_marginal": 0.1,
        "forward: VAE.elbo (training steps + evaluations)": 4.7,
        "backward (autograd engine)": 3.9,
        "Adam step (by hand on the flat buffers)": 0.4,
        "periodic history evaluations": 1.3,
        "snapshots": 0.3,
    }
    top = [{"function": "model.py:77(forward)", "calls": 13107, "tottime": 0.16, "cumtime": 3.83}]
    return Measurements(
        machine={
            "date": "today",
            "nproc": "2",
            "cpu": "cpu",
            "python": "3.11",
            "torch": "2",
            "commit": "c0ffee",
        },
        threads=1,
        ref_steps=1500,
        refs=[reference() for _ in range(3)],
        projs=[project() for _ in range(3)],
        single={"seconds": [1.6, 1.7, 1.65], "steps": [1800] * 3, "vae_core": "abc"},
        profile={"wall_seconds": 13.3, "top_tottime": top, "parts": parts, "ground_truth_calls": 18},
        sweep={"checkpoints": [250, 500], "curves": [{"label": labels[0], "values": [0.6, 0.65]}]},
        default_threads_run={"default_threads": 2, "wall_seconds": 8.65},
        truth=truth,
        load_before="1.00 1.00 1.00",
        load_after="1.10 1.00 1.00",
        total_seconds=164.0,
    )


def test_report_has_every_section_in_order_with_its_numbers():
    report = build_report(synthetic_measurements())
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert [h.split(" (")[0] for h in headings] == [
        "# Training benchmark: vae_core.training.train_many vs a plain PyTorch loop",
        "## Machine and run",
        "## Setup",
        "## How many steps the reference needs",
        "## Speed",
        "## Quality",
        "## Where the project's time goes",
        "### What dominates",
        "## Verdict",
    ]
    assert "| | reference | project | ratio |" in report
    assert "| wall time, 9 models, median (s) | 16.00 | 8.00 | 2.00x |" in report
    assert "| all repetitions (s) | 16.00, 16.00, 16.00 | 8.00, 8.00, 8.00 | |" in report
    assert "| model | 250 | 500 |\n|---|---:|---:|" in report
    assert "From step 500 on" in report
    assert "  - of which kl_marginal: 0.20 s" in report
    assert "**NOT met** — 2.00x on median wall time" in report
    assert report.endswith("speed-up: 2.0x\n")
