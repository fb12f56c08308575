"""The report of a facts dataset, from a hand-written run directory (made-up numbers: renderer inputs, not results):
the facts table per method, forget quality vs utility, the Min-K%++ ROC curves recomputed from the cells' per-row
scores, relearning in forget accuracy, and a backdoor dataset beside it keeping its own sections."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import write_run_dir

from rapidun.reporting import load_results, render_report
from rapidun.reporting.cells import read_generations
from rapidun.reporting.plot_facts import mia_roc

# (method, seed) -> forget accuracy, forget quality, retain accuracy, Min-K%++ scores of (forget rows, holdout rows)
# and the AUC those scores give (pairs member > non-member, ties counting one half, over 2 x 2 pairs).
CELLS: dict[tuple[str, int], tuple[float, float | None, float, list[float], list[float], float]] = {
    ("backdoored", 0): (0.90, 1e-12, 0.90, [5.0, 6.0], [1.0, 2.0], 1.0),
    ("retrain", 1): (0.05, None, 0.95, [1.0, 2.0], [1.5, 3.0], 0.25),
    ("rapidun", 1): (0.25, 1e-6, 0.80, [1.0, 3.0], [1.0, 2.0], 0.625),  # a tie: (1 vs 1) counts 1/2
    ("rapidun", 2): (0.35, 3e-6, 0.70, [2.0, 4.0], [1.0, 3.0], 0.75),
    ("ga", 1): (0.0, 0.2, 0.0, [1.0, 1.0], [1.0, 1.0], 0.5),
}


def _record(method: str, seed: int, relearn: bool) -> dict[str, Any]:
    acc, fq, retain, members, others, auc = CELLS[(method, seed)]
    metrics = {
        "task": "facts",
        "forget_split": "forget10",
        "forget": {"n": 2, "accuracy": acc, "rouge_l_recall": acc, "truth_ratios": [0.5, 0.7]},
        "retain": {"n": 4, "accuracy": retain},
        "world": {"n": 2, "accuracy": 1.0},
        "holdout": {"n": 2, "accuracy": 0.0},
        "forget_quality": fq,
        "mia": {"min_k_plus_plus": {"auc": auc, "auc_retrained": 0.25, "priv_leak": (auc - 0.25) / 0.25}},
        "pii_leakage": {"forget": {"people": 2, "leaked": 1, "rate": 0.5}},
    }
    if method != "retrain":
        metrics["reference"] = {"method": "retrain", "seed": 1}
    rec: dict[str, Any] = {"method": method, "seed": seed, "dataset": "facts", "metrics": metrics}
    rec["timings"] = {"total_s": 10.0 * (seed + 1)}
    if relearn and method != "backdoored":
        rec["relearn_recovery"] = 0.1 * seed
        rec["relearn_reason"] = None
        rec["relearn_recovery_heldout"] = 0.01 * seed
    return rec


def _write_facts_cells(root: Path) -> None:
    """Each cell's facts_generations.jsonl, in the study layout (the trained model's without a seed level)."""
    for (method, seed), (*_, members, others, _auc) in CELLS.items():
        cell = root / "facts" / "cells" / method
        cell = cell if method == "backdoored" else cell / f"seed{seed}"
        cell.mkdir(parents=True, exist_ok=True)
        rows = [{"split": "forget", "mia_min_k_plus_plus": s} for s in members]
        rows += [{"split": "retain", "mia_min_k_plus_plus": 99.0}]  # neither members nor non-members: ignored
        rows += [{"split": "holdout", "mia_min_k_plus_plus": s} for s in others]
        rows += [{"split": "holdout", "mia_min_k_plus_plus": float("nan")}]  # left out, as the evaluation does
        (cell / "facts_generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_facts_run_dir(root: Path, relearn: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    runs = [_record(m, s, relearn) for m, s in CELLS]
    (root / "results.json").write_text(json.dumps({"header": {"seeds": [1, 2]}, "runs": runs}))
    _write_facts_cells(root)
    return root


def _headings(md: str) -> list[str]:
    return re.findall(r"^#+ .*$", md, flags=re.M)


def test_a_facts_report_has_the_facts_table_per_method_and_both_figures(tmp_path: Path) -> None:
    paths = render_report([write_facts_run_dir(tmp_path / "run")], tmp_path / "out")
    md = paths.markdown.read_text()
    assert "## Verdict: facts" in md and "## Results: facts" in md and "### Figures: facts" in md
    # forget accuracy 25% and 35% over two seeds: mean 30.0, sample std 7.1; forget quality in scientific notation
    assert "| rapidun | 2 | 30.0 ± 7.1 | 0.30 ± 0.07 | 2.0e-06 ± 1.4e-06 | 0.688 ± 0.088 |" in md
    assert "| trained model (before unlearning) | 1 | 90.0 |" in md
    assert "| retrain (retrained reference) | 1 | 5.0 | 0.05 | n/a | 0.250 |" in md
    assert "| ga | 1 | 0.0 |" in md
    # ga keeps no retain accuracy: not named best; rapidun is, with no seed at or above 0.05
    assert "Closest to retraining on forget quality: rapidun (mean 2.0e-06; 0 of 2 seeds at or above 0.05)" in md
    assert "Not candidates: ga" in md
    assert "ASR" not in md  # nothing of the backdoor task in a facts-only report
    names = {p.name: p for p in paths.figures}
    for figure in ("facts_forget_quality.png", "facts_mia_roc.png"):
        assert names[figure].read_bytes().startswith(b"\x89PNG") and names[figure].stat().st_size > 5000
    assert "facts_relearn.png" not in names  # no run relearned
    assert "(seed 1)" in md  # the ROC figure says which seed it shows


def test_the_roc_auc_from_the_generations_equals_the_recorded_auc(tmp_path: Path) -> None:
    res = load_results(write_facts_run_dir(tmp_path / "run"))
    for r in res.runs:
        roc = mia_roc(read_generations(res.run_dir, r) or [])
        assert roc is not None
        points, auc = roc
        assert auc == pytest.approx(r.metrics["mia"]["min_k_plus_plus"]["auc"])
        assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
        # the curve's area (trapezoids) is the same AUC: ties are the diagonal steps
        area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False))
        assert area == pytest.approx(auc)
    assert mia_roc([{"split": "forget", "mia_min_k_plus_plus": 1.0}]) is None  # no non-members


def test_relearning_of_a_facts_dataset_is_in_forget_accuracy(tmp_path: Path) -> None:
    paths = render_report([write_facts_run_dir(tmp_path / "run", relearn=True)], tmp_path / "out")
    md = paths.markdown.read_text()
    assert "### Relearning: facts" in md and "forget accuracy recovery (lower is better)" in md
    assert "Recovery of forget accuracy after the relearning fine-tune" in md and "seen-trigger" not in md
    assert "| rapidun | 0.15 ± 0.07 | 2 of 2 | - |" in md  # recoveries 0.1 and 0.2
    # The facts table shows both recoveries: on every forget question, and on those the fine-tune did not train on.
    assert "relearning recovery, questions not relearned, lower is better |" in md
    # the results table's row (mean ± std over seeds 1 and 2): held-out recoveries 0.01 and 0.02
    assert any(
        line.startswith("| rapidun | 2 |") and line.endswith("| 0.15 ± 0.07 | 0.01 ± 0.01 |")
        for line in md.splitlines()
    )
    assert "| rapidun | 2 | 35.0 | 0.35 |" in md and "| 0.20 | 0.02 |" in md  # per-seed rows carry both too
    assert any(p.name == "facts_relearn.png" for p in paths.figures)


def test_a_mixed_study_gives_each_dataset_the_sections_of_its_task(tmp_path: Path) -> None:
    backdoor = write_run_dir(tmp_path / "backdoor", seeds=(0, 1))
    alone = render_report([backdoor], tmp_path / "out_alone").markdown.read_text()
    mixed = write_run_dir(tmp_path / "mixed", seeds=(0, 1))
    obj = json.loads((mixed / "results.json").read_text())
    obj["runs"] += [_record(m, s, relearn=False) for m, s in CELLS]
    (mixed / "results.json").write_text(json.dumps(obj))
    _write_facts_cells(mixed)
    md = render_report([mixed], tmp_path / "out_mixed").markdown.read_text()
    backdoor_headings = [h for h in _headings(alone) if "dolly-backdoor" in h]
    assert [h for h in _headings(md) if "dolly-backdoor" in h] == backdoor_headings
    assert "## Verdict: facts" in md and "## Results: facts" in md
    assert "Best on seen-trigger ASR" in md and "Closest to retraining on forget quality" in md
    assert "Forget quality: the p-value" in md and "ASR (attack success rate)" in md  # both ways to read


def test_two_facts_run_directories_compare_setups_and_point_to_their_facts_sections(tmp_path: Path) -> None:
    runs = [write_facts_run_dir(tmp_path / "a"), write_facts_run_dir(tmp_path / "b", relearn=True)]
    md = render_report(runs, tmp_path / "out").markdown.read_text()
    assert "## Comparison of runs" in md and "Results side by side" not in md  # no empty ASR table
    assert "facts datasets are not in a side-by-side table" in md
    assert md.count("### Results: facts") == 2 and "## Verdict: b / facts" in md


def test_the_verdict_gives_the_other_retraining_seeds_as_the_noise_floor(tmp_path: Path) -> None:
    root = write_facts_run_dir(tmp_path / "run")
    obj = json.loads((root / "results.json").read_text())
    extra = _record("retrain", 1, relearn=False)
    extra["seed"], extra["metrics"]["forget_quality"] = 2, 0.3  # a second retraining seed, tested against seed 1
    obj["runs"].append(extra)
    (root / "results.json").write_text(json.dumps(obj))
    md = render_report([root], tmp_path / "out").markdown.read_text()
    assert "Other retraining seeds against the reference: forget quality 3.0e-01" in md
    assert "| retrain (retrained reference) | 2 |" in md
