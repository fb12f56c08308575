"""A tiny frontier study end to end (nano model, 2 methods x 2 strengths x 2 seeds, ~15 s): per-prompt outcomes next to
each cell.json, validation outcomes, the results.json ``frontier`` block and the report's frontier figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapidun.pipeline.study import run_study
from rapidun.pipeline.study_config import study_config


def _config() -> dict:
    return {
        "name": "frontier-nano",
        "model": "nano",
        "datasets": [
            {
                "name": "toy",
                "source": "synthetic",
                "n_rows": 120,
                "poison_rate": 0.2,
                "seed": 3,
                "n_val": 10,
                "n_test": 10,
                "n_forget": 4,
            }
        ],
        "backdoor": {"epochs": 1, "batch_size": 16, "lr": 6e-3, "max_length": 64, "checkpoint_every": 0},
        "retrain": False,
        "methods": [],
        "seeds": [1, 2],
        "unlearn": {"max_length": 64, "epochs": 0.5, "checkpoint_every": 0},
        "evaluation": {"max_new_tokens": 4, "max_eval": 8, "batch_size": 16},
        "frontier": {
            "budgets": [1.05, 1.1],
            "sweep": {"uniform": {"lr": [1e-4, 3e-3]}, "ga": {"lr": [1e-4, 3e-3]}},
            "n_resamples": 200,
        },
    }


def test_frontier_study_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Run in parts: seed 1 first, then both seeds (seed 1's cells are reused).
    first = run_study(study_config({**_config(), "seeds": [1]}), out, progress=False, report=False)
    assert len(first.runs) == 5
    part = json.loads((out / "results.json").read_text())["frontier"]["datasets"]["toy"]
    assert part["methods"]["ga"]["seeds"] == [1]
    # A cell finished before outcomes were kept is evaluated again from its saved adapter, not retrained.
    root = out / "toy" / "cells"
    (root / "ga~lr=0.003" / "seed1" / "outcomes.json").unlink()
    adapter = root / "ga~lr=0.003" / "seed1" / "unlearn" / "adapter_model.safetensors"
    trained_at = adapter.stat().st_mtime_ns
    res = run_study(study_config(_config()), out, progress=False)
    assert (root / "ga~lr=0.003" / "seed1" / "outcomes.json").is_file()
    assert adapter.stat().st_mtime_ns == trained_at
    cell_dirs = sorted(p.parent for p in root.glob("*/seed*/cell.json"))
    assert [p.relative_to(root).as_posix() for p in cell_dirs] == [
        f"{m}~lr={lr}/seed{s}" for m in ("ga", "uniform") for lr in ("0.0001", "0.003") for s in (1, 2)
    ]
    for d in [*cell_dirs, root / "backdoored"]:
        outcomes = json.loads((d / "outcomes.json").read_text())
        cell = json.loads((d / "cell.json").read_text())
        test, val = outcomes["test"], outcomes["val"]
        assert len(test["seen"]) == cell["metrics"]["counts"]["seen"]
        assert sum(test["seen"]) / len(test["seen"]) == pytest.approx(cell["metrics"]["asr_seen"])
        assert len(test["ppl_nll"]) == cell["metrics"]["counts"]["ppl_rows"]
        assert sum(test["ppl_nll"]) == pytest.approx(cell["metrics"]["clean_ppl_details"]["nll_sum"])
        assert val is not None and len(val["seen"]) == 8 and len(val["ood"]) == 8
    frontier = json.loads((out / "results.json").read_text())["frontier"]
    assert frontier["budgets"] == ["1.05", "1.1"]
    methods = frontier["datasets"]["toy"]["methods"]
    assert set(methods) == {"uniform", "ga"}
    for name, block in methods.items():
        assert block["seeds"] == [1, 2]
        assert len(block["points"]) == 3 * 2  # backdoored + 2 strengths, per seed
        for budget in ("1.05", "1.1"):
            for split in ("seen", "ood"):
                entry = block["budgets"][budget][split]
                assert entry["ci95"][0] <= entry["asr"] <= entry["ci95"][1]
                assert entry["val_ratio"] <= float(budget) + 1e-12  # the point respects the budget on validation
                other = "ga" if name == "uniform" else "uniform"
                vs = entry["vs"][other]
                assert vs["ci95"][0] <= vs["diff"] <= vs["ci95"][1]
                assert vs["within_noise"] == (vs["ci95"][0] <= 0 <= vs["ci95"][1])
    md = (out / "report.md").read_text()
    assert "## Frontier" in md or "Frontier" in md
    assert (out / "report_figures" / "toy_frontier.png").is_file()
    assert res.report_html is not None
