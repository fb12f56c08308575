"""The report's frontier section from a hand-written ``frontier`` block: the budget table (with the spread it
shows), the paired-difference table with its "within noise" marks, and the frontier figure."""

from __future__ import annotations

import json
from pathlib import Path

from rapidun.reporting.render import render_report


def _point(label: str, seed: int, ratio: float, asr: float) -> dict:
    return {
        "label": label,
        "seed": seed,
        "val_ratio": ratio,
        "test_ratio": ratio,
        **{f"{w}_asr_{s}": asr for w in ("val", "test") for s in ("seen", "ood")},
    }


def _entry(asr: float, ci: list[float], vs: dict, drop: float = 0.1) -> dict:
    return {
        "asr": asr,
        "ci95": ci,
        "test_ratio": 1.05,
        "val_asr": asr,
        "val_ratio": 1.05,
        "between": ["lr=0.001", "lr=0.002"],
        "t": 0.5,
        "budget_reached": True,
        "val_asr_drop": drop,
        "vs": vs,
    }


def _method(asr: float, ci: list[float], other: str, diff: list[float]) -> dict:
    vs = {other: {"diff": diff[0], "ci95": diff[1:], "within_noise": diff[1] <= 0 <= diff[2], "seeds": [1]}}
    vs[other] |= {"test_ratio_diff": 0.01, "test_ratio_ci95": [-0.02, 0.04]}
    points = [
        _point(lab, 1, r, a)
        for lab, r, a in (("backdoored", 1.0, 0.9), ("lr=0.001", 1.02, 0.5), ("lr=0.002", 1.08, 0.1))
    ]
    return {
        "labels": ["backdoored", "lr=0.001", "lr=0.002"],
        "seeds": [1],
        "points": points,
        "budgets": {"1.05": {"seen": _entry(asr, ci, vs), "ood": _entry(asr, ci, vs)}},
    }


def test_frontier_section_tables_and_figure(tmp_path: Path) -> None:
    run = {
        "method": "backdoored",
        "seed": 1,
        "dataset": "toy",
        "metrics": {"asr_seen": 0.9, "asr_ood": 0.8, "false_trigger_rate": 0.0, "clean_ppl": 4.0},
        "timings": {"influence_s": 0, "weights_s": 0, "training_s": 1, "evaluation_s": 1, "total_s": 1},
    }
    frontier = {
        "budgets": ["1.05"],
        "spread": "95% percentile bootstrap over seeds and prompts",
        "datasets": {
            "toy": {
                "methods": {
                    "uniform": _method(0.25, [0.1, 0.4], "ga", [-0.5, -0.7, -0.3]),
                    "ga": _method(0.75, [0.6, 0.9], "uniform", [0.5, -0.1, 0.7]),  # made-up: contains 0
                },
                "notes": ["ga seed 2 left out: no validation outcomes for ga~lr=0.002"],
            }
        },
    }
    frontier["datasets"]["toy"]["methods"]["ga"]["budgets"]["1.05"]["seen"]["val_asr_drop"] = 0.4  # a cliff
    (tmp_path / "results.json").write_text(json.dumps({"header": {}, "runs": [run], "frontier": frontier}))
    paths = render_report([tmp_path], tmp_path / "report")
    md = paths.markdown.read_text()
    assert "### Frontier at matched perplexity: toy" in md
    assert "toward lr=0.002 (across a 40.0-point drop in val ASR: a finer sweep may do better) | 1 |" in md
    assert md.count("point drop in val ASR") == 1  # uniform's 10-point drop is no cliff
    assert "Intervals: 95% percentile bootstrap over seeds and prompts." in md
    assert (
        "| uniform | +5% | 25.0 [10.0, 40.0] | 25.0 [10.0, 40.0] | 1.050 | lr=0.001 + 0.50 toward lr=0.002 | 1 |" in md
    )
    assert (
        "| uniform | ga | +5% | -50.0 [-70.0, -30.0] | -50.0 [-70.0, -30.0] | 0.010 [-0.020, 0.040] |" in md
    )  # excludes 0: no mark
    assert (
        "| ga | uniform | +5% | 50.0 [-10.0, 70.0] (within noise) | 50.0 [-10.0, 70.0] (within noise) | 0.010 [-0.020, 0.040] |"
        in md
    )
    assert "ga seed 2 left out" in md
    assert any(p.name == "toy_frontier.png" for p in paths.figures)
    html = paths.html.read_text()
    assert "Matched-perplexity frontier" in html


def test_results_without_frontier_render_no_section(tmp_path: Path) -> None:
    run = {
        "method": "backdoored",
        "seed": 1,
        "dataset": "toy",
        "metrics": {"asr_seen": 0.9, "asr_ood": 0.8, "false_trigger_rate": 0.0, "clean_ppl": 4.0},
        "timings": {"influence_s": 0, "weights_s": 0, "training_s": 1, "evaluation_s": 1, "total_s": 1},
    }
    (tmp_path / "results.json").write_text(json.dumps({"header": {}, "runs": [run]}))
    paths = render_report([tmp_path], tmp_path / "report")
    assert "Frontier" not in paths.markdown.read_text()
    assert not any("frontier" in p.name for p in paths.figures)
