"""benchmarks/study_reproduces.py: cells compared metric by metric, on hand-written files."""

from __future__ import annotations

import json
from pathlib import Path

from bench_scripts import load_script


def _module():
    return load_script("study_reproduces")


def _metrics(seen: float) -> dict:
    return {"asr_seen": seen, "asr_ood": 0.2, "false_trigger_rate": 0.0, "clean_ppl": 7.5}


def test_identical_different_and_absent_cells(tmp_path: Path) -> None:
    cells = tmp_path / "synthetic" / "cells"
    for key, seed, seen in (("uniform~lr=0.001", 1, 0.10), ("uniform~lr=0.001", 2, 0.30)):
        d = cells / key / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "cell.json").write_text(json.dumps({"metrics": _metrics(seen)}))
    runs = [
        {"dataset": "synthetic", "method": "backdoored", "label": "", "seed": 42, "metrics": _metrics(0.9)},
        {"dataset": "synthetic", "method": "uniform", "label": "lr=0.001", "seed": 1, "metrics": _metrics(0.10)},
        {"dataset": "synthetic", "method": "uniform", "label": "lr=0.001", "seed": 2, "metrics": _metrics(0.25)},
        {"dataset": "synthetic", "method": "uniform", "label": "lr=0.002", "seed": 1, "metrics": _metrics(0.05)},
    ]
    out = _module().compare(runs, tmp_path, None)
    assert (out["identical"], out["compared"], out["absent"]) == (1, 2, ["uniform~lr=0.002 seed 1"])
    assert out["different"][0]["cell"] == "uniform~lr=0.001 seed 2"
    assert abs(out["different"][0]["abs_gap"]["asr_seen"] - 0.05) < 1e-12
    only_seed_1 = _module().compare(runs, tmp_path, {1})
    assert (only_seed_1["identical"], only_seed_1["compared"]) == (1, 1)
