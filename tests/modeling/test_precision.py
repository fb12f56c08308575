"""``--model-dtype`` and ``--load-in-4bit``: the dtype each choice resolves to, one-line refusals (exit 2) before
any model is built, LoRA weights kept in float32 over a bf16 base, and bf16 losses close to fp32 ones (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rapidun.cli.main import main
from rapidun.errors import RapidunError
from rapidun.modeling.precision import resolve_dtype
from rapidun.training.sft import LoraSettings, apply_lora

# bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ~ 0.2% per op). Stated tolerance: every per-step loss
# within 0.5% of fp32's (observed on this CPU: < 0.03% for training and unlearning, 4 and 8 steps).
LOSS_RTOL = 0.005


def test_resolved_types() -> None:
    assert resolve_dtype("auto", "cpu") == torch.float32  # a size name: today's fp32
    assert resolve_dtype("auto", "cpu", "bfloat16") == torch.bfloat16  # a bf16 checkpoint stays bf16
    assert resolve_dtype("auto", "cpu", "float16") == torch.float32  # fp16 on a CPU: stated fallback to fp32
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    with pytest.raises(RapidunError, match="--model-dtype fp16 is not supported on cpu; use bf16 or fp32"):
        resolve_dtype("fp16", "cpu")


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], pattern: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and pattern in err[0], err


@pytest.fixture
def rows_file(toy_rows, tmp_path: Path) -> Path:
    from rapidun.data.rows import write_rows

    path = tmp_path / "rows.jsonl"
    write_rows(path, toy_rows)
    return path


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusals of a machine without a GPU")
def test_bad_precision_flags_exit_2(rows_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--model", "nano", "--data", str(rows_file), "--out", str(tmp_path / "o"), "--device", "cpu"]
    _one_line_error([*base, "--model-dtype", "fp16"], capsys, "--model-dtype fp16 is not supported on cpu")
    _one_line_error([*base, "--load-in-4bit"], capsys, "--load-in-4bit needs a CUDA GPU")
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_lora_stays_fp32_on_a_bf16_base(nano_model) -> None:
    import copy

    model = apply_lora(copy.deepcopy(nano_model.model).to(torch.bfloat16), LoraSettings(r=2, dropout=0.0))
    trained = {p.dtype for p in model.parameters() if p.requires_grad}
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    assert trained == {torch.float32} and frozen == {torch.bfloat16}


def _losses(run_dir: Path) -> list[float]:
    return json.loads((run_dir / "run.json").read_text())["losses"]


def test_bf16_losses_agree_with_fp32(rows_file: Path, tmp_path: Path) -> None:
    """CPU evidence (issue 12): LoRA training, then rapidun-style unlearning, in bf16 and fp32."""
    common = ["--data", str(rows_file), "--max-steps", "4", "--batch-size", "4", "--max-length", "48"]
    forget, retain = tmp_path / "f.jsonl", tmp_path / "r.jsonl"
    lines = rows_file.read_text().splitlines()
    forget.write_text("\n".join(lines[6:]) + "\n")
    retain.write_text("\n".join(lines[:6]) + "\n")
    assert main(["-q", "train", "--model", "nano", *common, "--out", str(tmp_path / "base"), "--no-progress"]) == 0
    for dtype in ("fp32", "bf16"):
        train = ["train", "--model", "nano", *common, "--lora", "--lr", "1e-2", "--model-dtype", dtype]
        assert main(["-q", *train, "--out", str(tmp_path / f"t_{dtype}"), "--no-progress"]) == 0
        sets = ["--forget", str(forget), "--retain", str(retain), "--method", "ga", "--model-dtype", dtype]
        unlearn = ["unlearn", "--model", str(tmp_path / "base"), *sets, "--epochs", "2", "--batch-size", "2"]
        assert main(["-q", *unlearn, "--out", str(tmp_path / f"u_{dtype}"), "--no-progress"]) == 0
    for stage in ("t", "u"):
        ref, low = _losses(tmp_path / f"{stage}_fp32"), _losses(tmp_path / f"{stage}_bf16")
        assert len(ref) == len(low) >= 2
        assert ref != low  # the bf16 run really computed in bf16
        for a, b in zip(ref, low, strict=True):
            assert abs(a - b) <= LOSS_RTOL * abs(a), (stage, ref, low)
    assert json.loads((tmp_path / "t_bf16" / "run.json").read_text())["dtype"] == "bfloat16"
