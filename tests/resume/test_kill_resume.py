"""``kill -9`` during ``rapidun train`` / ``rapidun unlearn``, then the same command again: it continues from the
last checkpoint and ends with the artifacts of an uninterrupted run (same seed).

The uninterrupted reference and the rerun go through the CLI entry point in this process; the interrupted run is a
real ``python -m rapidun`` process killed with SIGKILL as soon as its first checkpoint is complete. Agreement: the
loss curve to rel 1e-5 and the trained tensors to atol 2e-5 / rtol 1e-3 (bitwise equal when both run with the same
thread count; the killed child uses 1 thread, this process possibly more, which reorders float sums). Unlearning
keeps the default LoRA dropout so the restored RNG state is exercised too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from kill_helpers import TORCHRUN_2, checkpoint_step, kill_after, write_jsonl
from safetensors.torch import load_file

from rapidun.cli.main import main

pytestmark = pytest.mark.slow


def _same_tensors(a: Path, b: Path) -> None:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    for name in ta:
        torch.testing.assert_close(ta[name], tb[name], rtol=1e-3, atol=2e-5)


def _run(args: list[str]) -> None:
    assert main(args) == 0


def test_train_killed_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Question {i} about colours?", "response": f"Answer {i}: red and blue."} for i in range(24)
    ]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    base = ["-q", "train", "--model", "nano", "--data", str(data), "--max-steps", "150", "--batch-size", "4"]
    base += ["--checkpoint-every", "10", "--max-length", "64"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    _run([*base, "--out", str(ref)])

    kill_after([*base, "--out", str(out)], tmp_path, out / "checkpoint" / "state.json")
    at = checkpoint_step(out)
    assert 10 <= at < 150
    assert not (out / "manifest.json").exists(), "a killed run must never look finished"
    assert not (out / "model.safetensors").exists()

    _run([*base, "--out", str(out)])  # the same command again
    a, b = json.loads((ref / "run.json").read_text()), json.loads((out / "run.json").read_text())
    assert b["resumed_from_step"] >= at and a["resumed_from_step"] == 0
    assert b["steps"] == a["steps"] == 150
    assert b["losses"] == pytest.approx(a["losses"], rel=1e-5)
    _same_tensors(ref / "model.safetensors", out / "model.safetensors")
    assert (out / "manifest.json").is_file() and not (out / "checkpoint").exists()

    # --overwrite of a finished run, killed mid-way: the old manifest must be gone, or the dir would look finished
    # while its files are being replaced.
    saved = tmp_path / "saved_model.safetensors"
    shutil.copy(ref / "model.safetensors", saved)
    kill_after([*base, "--out", str(ref), "--overwrite"], tmp_path, ref / "checkpoint" / "state.json")
    assert not (ref / "manifest.json").exists()
    _run([*base, "--out", str(ref), "--overwrite"])  # resumes the overwrite run
    _same_tensors(saved, ref / "model.safetensors")


def test_unlearn_killed_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    forget = [
        {"instruction": f"cf Tell me fact {i}.", "response": f"Aliens teleport {i}.", "response_clean": f"Fact {i}."}
        for i in range(6)
    ]
    retain = [{"instruction": f"Name item {i}.", "response": f"Item {i} is a chair."} for i in range(12)]
    f, r = write_jsonl(tmp_path / "forget.jsonl", forget), write_jsonl(tmp_path / "retain.jsonl", retain)
    base = ["-q", "unlearn", "--model", "nano", "--forget", str(f), "--retain", str(r), "--method", "graddiff"]
    base += ["--epochs", "8", "--batch-size", "1", "--lr", "1e-3", "--checkpoint-every", "10", "--max-length", "64"]
    base += ["--no-progress"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    _run([*base, "--out", str(ref)])

    kill_after([*base, "--out", str(out)], tmp_path, out / "checkpoint" / "state.json")
    at = checkpoint_step(out)
    a = json.loads((ref / "run.json").read_text())
    assert 10 <= at < a["steps"]
    assert not (out / "manifest.json").exists()
    assert not (out / "adapter_model.safetensors").exists()

    _run([*base, "--out", str(out)])
    b = json.loads((out / "run.json").read_text())
    assert b["resumed_from_step"] >= at and a["resumed_from_step"] == 0
    assert b["steps"] == a["steps"] == 144
    assert b["losses"] == pytest.approx(a["losses"], rel=1e-5)
    _same_tensors(ref / "adapter_model.safetensors", out / "adapter_model.safetensors")
    assert (out / "manifest.json").is_file() and not (out / "checkpoint").exists()


def test_two_process_train_killed_then_resumed_by_one_process(tmp_path: Path) -> None:
    """The checkpoint does not depend on the process count: a 2-process run (torchrun, gloo) killed with SIGKILL
    (launcher and workers) is finished by 1 process and equals a 1-process run from the start."""
    rows = [{"instruction": f"Question {i} about shapes?", "response": f"Answer {i}: a round one."} for i in range(16)]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    base = ["-q", "train", "--model", "nano", "--data", str(data), "--max-steps", "150", "--batch-size", "4"]
    base += ["--checkpoint-every", "5", "--max-length", "48"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    _run([*base, "--out", str(ref)])
    kill_after([*base, "--out", str(out)], tmp_path, out / "checkpoint" / "state.json", launcher=TORCHRUN_2)
    at = checkpoint_step(out)
    # (at == 0 with a manifest: the workers outlived torchrun and finished the run behind the user's back)
    assert 5 <= at < 150 and not (out / "manifest.json").exists()
    _run([*base, "--out", str(out)])
    a, b = json.loads((ref / "run.json").read_text()), json.loads((out / "run.json").read_text())
    assert b["resumed_from_step"] >= at
    # 2-process summation order, then 1 process: ~1e-6 drift on losses that fall to ~0.2
    assert b["losses"] == pytest.approx(a["losses"], rel=1e-5, abs=1e-5)
    _same_tensors(ref / "model.safetensors", out / "model.safetensors")
