"""benchmarks/gpu_bench.py as a CPU dry run on nano with tiny step counts: every stage measured and recorded, the plan
compared for the same model, the batch-8 rates consistent; the 2-process part through torchrun (gloo) is slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from bench_scripts import load_script

DRY = ["--size", "nano", "--dtype", "fp32", "--max-length", "48", "--forget-rows", "4", "--retain-rows", "12"]
DRY += ["--influence-batch-size", "4", "--train-steps", "1", "--train-batch-size", "4", "--unlearn-steps", "2"]
DRY += ["--reps", "1"]


@pytest.fixture(scope="module")
def gb():
    return load_script("gpu_bench")


def _run(gb, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "gpu_bench.json"
    assert gb.main([*DRY, "--out", str(out), "--work", str(tmp_path / "work"), *extra]) == 0
    return json.loads(out.read_text())


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU dry run")
def test_dry_run_measures_every_stage(gb, tmp_path: Path) -> None:
    res = _run(gb, tmp_path, "--processes", "1")
    stages = res["stages"]
    assert not [k for k in stages if k.endswith("_error")]
    assert set(stages) == {"floor", "influence", "train", "unlearn_b1", "unlearn_b8", "memory_vs_plan", "done"}
    assert stages["floor"]["tokens_per_row"] == 48.0  # every row fills --max-length, as the plan assumes
    infl = stages["influence"]
    assert infl["vs_floor"] == pytest.approx(infl["rows_per_s"] / stages["floor"]["rows_per_s"])
    assert infl["rows_per_s"] == pytest.approx(16 / infl["cache_s"])
    assert stages["train"]["steps"] == 1
    for batch in (1, 8):
        run = stages[f"unlearn_b{batch}"]
        assert run["steps"] == 2 and run["batch_size"] == batch
        assert run["rows_per_s"] == pytest.approx(batch * run["steps_per_s"])
    memory = stages["memory_vs_plan"]
    assert set(memory) == {"train", "influence", "unlearn_b1", "unlearn_b8", "note"}
    # The plan is made for this very model: fp32 weights of the counted parameters.
    assert memory["influence"]["predicted_parts_mb"]["weights_mb"] == round(res["parameters"] * 4 / 2**20, 1)
    # Batch 8 keeps 8x the activations of batch 1 in the plan's every-row-is-max-length bound (both rounded to
    # 0.1 MB by the plan: 8 x 0.05 + 0.05 of slack).
    b1, b8 = (memory[f"unlearn_b{n}"]["predicted_parts_mb"]["activations_mb"] for n in (1, 8))
    assert b8 == pytest.approx(8 * b1, abs=0.45) and b8 > 4 * b1
    assert res["dtype"] == "float32" and res["size"] == "nano" and res["gpus"] == 0


def test_large_without_a_gpu_is_refused(gb, capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert gb.main(["--size", "large"]) == 2
    assert "--size tiny --dtype fp32" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.multiproc
@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU dry run")
def test_dry_run_two_processes(gb, tmp_path: Path) -> None:
    res = _run(gb, tmp_path, "--processes", "2")
    two = res["stages"]["processes_2"]
    assert two["unlearn_b8_steps"] == res["stages"]["unlearn_b8"]["steps"] == 2  # same steps as one process
    assert two["influence_rows_per_s"] > 0 and two["unlearn_b8_speedup_vs_1"] is not None
