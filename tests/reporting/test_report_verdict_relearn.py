"""The report leads with the verdict (table + one sentence per comparison with the best method, paired bootstrap on
per-prompt outcomes, else the 95% intervals) and shows a Relearning table and figure only when runs relearned."""

from __future__ import annotations

import json
from pathlib import Path

from rapidun.reporting.render import render_report
from rapidun.reporting.results import RunRecord
from rapidun.reporting.verdict import comparisons


def _run(method: str, seed: int, asr: float, ci: tuple[float, float], **extra: object) -> RunRecord:
    metrics = {"asr_seen": asr, "asr_ood": asr, "false_trigger_rate": 0.0, "clean_ppl": 5.0, "ci95": {"asr_seen": ci}}
    return RunRecord(method, seed, "toy", None, metrics, {"total_s": 1.0}, None, None, None, 0, **extra)  # type: ignore[arg-type]


def test_verdict_comes_first_then_how_to_read_then_results_and_the_setup_last(run_dir: Path, tmp_path: Path) -> None:
    md = render_report([run_dir], tmp_path / "out").markdown.read_text()
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads == ["## Verdict: dolly-backdoor", "## How to read this", "## Results: dolly-backdoor", "## Setup"]
    verdict = md.split("## How to read this")[0]
    for method in ("backdoored", "retrain", "rapidun", "ga", "uniform", "loreun"):
        assert f"| {method} |" in verdict
    assert "± sample std over 3 seeds" in verdict
    # the fixture's rapidun has the lowest seen ASR of the unlearning methods (0.1 + noise; ga 0.3, uniform 0.25)
    assert "Best on seen-trigger ASR: rapidun." in verdict
    assert "ga vs rapidun, seen ASR:" in verdict and "do not overlap: outside noise" in verdict


def test_a_collapsed_method_is_not_the_best(tmp_path: Path) -> None:
    start = _run("backdoored", 0, 0.6, (0.5, 0.7))
    collapsed = _run("ga", 0, 0.0, (0.0, 0.02))
    collapsed.metrics["clean_ppl"] = 16.0  # > 3 x the backdoored model's 5.0
    kept = _run("uniform", 0, 0.2, (0.15, 0.25))
    kept.metrics["clean_ppl"] = 14.0  # < 15.0: still a candidate
    lines = comparisons(tmp_path, [start, collapsed, kept])
    assert lines[0] == "Best on seen-trigger ASR: uniform."
    assert lines[1].startswith("Not candidates: ga (clean perplexity above 3x")


def test_interval_overlap_decides_without_outcomes(tmp_path: Path) -> None:
    apart = [_run("uniform", 0, 0.15, (0.1, 0.2)), _run("ga", 0, 0.35, (0.3, 0.4))]
    assert (
        comparisons(tmp_path, apart)[1]
        == "ga vs uniform, seen ASR: +20.0 points; their 95% intervals do not overlap: outside noise."
    )
    close = [_run("uniform", 0, 0.15, (0.1, 0.2)), _run("ga", 0, 0.25, (0.19, 0.31))]
    assert "their 95% intervals overlap: not shown to be outside noise" in comparisons(tmp_path, close)[1]


def _outcomes(root: Path, method: str, seed: int, seen: list[int]) -> None:
    d = root / "toy" / "cells" / method / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "outcomes.json").write_text(json.dumps({"test": {"seen": seen}, "val": None}))


def test_paired_bootstrap_on_outcomes(tmp_path: Path) -> None:
    runs = [_run("uniform", s, 0.0, (0.0, 0.2)) for s in (1, 2)] + [_run("ga", s, 1.0, (0.0, 1.0)) for s in (1, 2)]
    for s in (1, 2):
        _outcomes(tmp_path, "uniform", s, [0] * 10)
        _outcomes(tmp_path, "ga", s, [1] * 10)
    # every prompt differs by exactly 1 in every seed: each bootstrap replicate is +100 points
    line = comparisons(tmp_path, runs)[1]
    assert line == (
        "ga vs uniform, seen ASR: +100.0 points, paired-bootstrap 95% interval [+100.0, +100.0] over 2 seeds x 10 "
        "prompts: outside noise."
    )
    same = tmp_path / "same"
    for s in (1, 2):
        _outcomes(same, "uniform", s, [0, 1] * 5)
        _outcomes(same, "ga", s, [0, 1] * 5)
    assert comparisons(same, runs)[1].endswith("within noise (the interval contains 0).")


def test_relearning_section_only_when_runs_relearned(run_dir: Path, tmp_path: Path) -> None:
    plain = render_report([run_dir], tmp_path / "plain")
    assert "Relearning" not in plain.markdown.read_text()
    results = json.loads((run_dir / "results.json").read_text())
    for r in results["runs"]:
        if r["method"] != "backdoored":
            r["relearn_recovery"] = {"retrain": 0.9, "ga": 0.5}.get(r["method"], 0.2) + 0.01 * r["seed"]
            r["relearn_reason"] = None
    (run_dir / "results.json").write_text(json.dumps(results))
    out = render_report([run_dir], tmp_path / "relearn")
    md = out.markdown.read_text()
    assert "### Relearning: dolly-backdoor" in md
    assert "| ga | 0.51 ± 0.01 | 3 of 3 | - |" in md  # 0.50, 0.51, 0.52 over seeds 0, 1, 2
    assert (tmp_path / "relearn" / "report_figures" / "dolly-backdoor_relearn.png") in out.figures
