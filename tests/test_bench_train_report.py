"""benchmarks/bench_train.py rewrites RESULTS.md but keeps the sections other benchmarks wrote."""

from benchmarks.bench_train import KEPT_SECTIONS, with_kept_sections


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
