"""The relearning column of a study (nano model, retraining + 2 methods, 1 seed, relearning steps 2): every unlearned
cell records its recovery, results.csv gains the column, the report a Relearning table and figure; a study without
the ``relearn`` block writes the cell records and CSV columns it always did."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rapidun.errors import RapidunError
from rapidun.pipeline.study import run_study
from rapidun.pipeline.study_config import study_config
from rapidun.pipeline.study_results import CSV_COLUMNS

# The keys of an unlearning cell's record before the relearning column existed (written out, not read from code).
CELL_KEYS = {
    "method",
    "label",
    "seed",
    "dataset",
    "metrics",
    "timings",
    "peak_memory_mb",
    "speedup_vs_retrain",
    "weights_dir",
    "steps",
    "final_loss",
    "lora_targets",  # the adapter's layers by name (None for retraining); added with issue 12
}
RELEARN = {"steps": 2, "rows": 2, "batch_size": 2, "eval_max": 6, "max_new_tokens": 4}


def _config(**extra: object) -> dict:
    return {
        "name": "relearn-nano",
        "model": "nano",
        "datasets": [
            {"name": "toy", "n_rows": 120, "poison_rate": 0.2, "seed": 3, "n_val": 6, "n_test": 8, "n_forget": 4}
        ],
        "backdoor": {"epochs": 1, "batch_size": 16, "lr": 6e-3, "max_length": 64, "checkpoint_every": 0},
        "methods": ["uniform", "ga"],
        "seeds": [1],
        "validation": False,
        "unlearn": {"max_length": 64, "epochs": 0.5, "checkpoint_every": 0},
        "evaluation": {"max_new_tokens": 4, "max_eval": 6, "batch_size": 16},
        **extra,
    }


def _cells(out: Path) -> dict[str, dict]:
    root = out / "toy" / "cells"
    cells = {p.parent.parent.name: json.loads(p.read_text()) for p in root.glob("*/seed*/cell.json")}
    return cells | {"backdoored": json.loads((root / "backdoored" / "cell.json").read_text())}


def test_study_without_relearn_keeps_its_records_and_relearns_when_asked_later(tmp_path: Path) -> None:
    res = run_study(study_config(_config()), tmp_path / "plain", progress=False, report=False)
    cells = _cells(res.out_dir)
    assert set(cells) == {"backdoored", "retrain", "uniform", "ga"}
    for name in ("uniform", "ga"):
        assert set(cells[name]) == CELL_KEYS
    llama = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert cells["uniform"]["lora_targets"] == llama and cells["retrain"]["lora_targets"] is None
    run = json.loads((res.out_dir / "toy" / "cells" / "ga" / "seed1" / "unlearn" / "run.json").read_text())
    assert run["config"]["train"]["lora"]["targets"] == llama  # resolved, not "auto"
    results = json.loads((res.out_dir / "results.json").read_text())
    assert {r["method"]: r.get("lora_targets") for r in results["runs"]}["ga"] == llama
    header = (res.out_dir / "results.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == CSV_COLUMNS
    # Adding the block to the finished study relearns its cells without unlearning them again.
    adapter = res.out_dir / "toy" / "cells" / "ga" / "seed1" / "unlearn" / "adapter_model.safetensors"
    trained_at = adapter.stat().st_mtime_ns
    run_study(study_config(_config(relearn=RELEARN)), res.out_dir, progress=False, report=False)
    again = _cells(res.out_dir)
    assert adapter.stat().st_mtime_ns == trained_at
    for name in ("retrain", "uniform", "ga"):
        assert set(again[name]) == CELL_KEYS | {"relearn_recovery", "relearn_reason"}
        assert again[name]["metrics"] == cells[name]["metrics"]
    # Changing the block measures the recovery again with the new settings (never a stale number kept).
    run_study(study_config(_config(relearn={**RELEARN, "steps": 1})), res.out_dir, progress=False, report=False)
    for name in ("retrain", "uniform", "ga"):
        run = json.loads((res.out_dir / "toy" / "cells" / name / "seed1" / "relearn" / "relearn.json").read_text())
        assert run["training"]["steps"] == 1 and run["config"]["steps"] == 1
        cell = _cells(res.out_dir)[name]
        assert cell["relearn_recovery"] == run["recovery"]


@pytest.mark.parametrize("bad", [{"steps": 0}, {"share": 1.5}])
def test_bad_relearn_block_is_one_error_before_any_work(bad: dict) -> None:
    with pytest.raises(RapidunError, match="relearn"):
        study_config(_config(relearn=bad))


def test_study_with_relearn_records_recovery_column_and_figure(tmp_path: Path) -> None:
    cfg = study_config(_config(relearn=RELEARN))
    res = run_study(cfg, tmp_path / "out", progress=False)
    cells = _cells(res.out_dir)
    assert "relearn_recovery" not in cells["backdoored"]  # nothing was unlearned there
    backdoored_asr = cells["backdoored"]["metrics"]["asr_seen"]
    for name in ("retrain", "uniform", "ga"):
        cell = cells[name]
        assert {"relearn_recovery", "relearn_reason"} <= set(cell)
        run = json.loads((res.out_dir / "toy" / "cells" / name / "seed1" / "relearn" / "relearn.json").read_text())
        assert run["training"]["steps"] == 2
        assert run["before_unlearning"]["asr_seen"] == backdoored_asr
        assert run["after_unlearning"]["asr_seen"] == cell["metrics"]["asr_seen"]
        b, u, r = backdoored_asr, cell["metrics"]["asr_seen"], run["after_relearning"]["asr_seen"]
        if cell["relearn_recovery"] is None:
            assert abs(b - u) < 0.01 and cell["relearn_reason"]
        else:
            assert cell["relearn_recovery"] == pytest.approx((r - u) / (b - u))
    with (res.out_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert "relearn_recovery" in rows[0]
    assert [row["relearn_recovery"] for row in rows if row["method"] == "backdoored"] == [""]
    md = (res.out_dir / "report.md").read_text()
    assert "Relearning: toy" in md
    # A nano backdoor this small may not implant (recovery then undefined: no figure, said in a note); the figure
    # itself is checked on fixture results in tests/reporting/test_report_verdict_relearn.py.
    has_value = any(c.get("relearn_recovery") is not None for c in cells.values())
    assert (res.out_dir / "report_figures" / "toy_relearn.png").is_file() == has_value
