"""benchmarks/ddp_bf16_check.py: its comparison helpers and verdict (fast; the runs themselves are what
tests/multiproc checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from bench_scripts import load_script
from safetensors.torch import save_file


@pytest.fixture(scope="module")
def bench() -> Any:
    return load_script("ddp_bf16_check")


def test_loss_gap_per_step_and_relative(bench) -> None:
    gap = bench.loss_gap([2.0, -4.0, 1.0], [2.5, -4.0, 0.9])
    assert gap["per_step_abs"] == pytest.approx([0.5, 0.0, 0.1])
    assert gap["max_abs"] == pytest.approx(0.5)
    assert gap["max_rel"] == pytest.approx(0.25)
    with pytest.raises(SystemExit, match="different step counts"):
        bench.loss_gap([1.0], [1.0, 2.0])


def test_weight_gap_is_the_largest_entry_difference(bench, tmp_path: Path) -> None:
    a = {"w": torch.zeros(3), "v": torch.ones(2)}
    b = {"w": torch.tensor([0.0, 0.0, 3e-5]), "v": torch.tensor([1.0, 0.5])}
    save_file(a, str(tmp_path / "a.safetensors"))
    save_file(b, str(tmp_path / "b.safetensors"))
    assert bench.weight_gap(tmp_path / "a.safetensors", tmp_path / "b.safetensors") == pytest.approx(0.5)


def _results(ddp_rel: float, bf16_rel: float, adapter: str = "float32") -> tuple[dict, dict]:
    ddp = {"max_rel": ddp_rel, "weights_max_abs": 1e-6}
    train = {"ddp_2proc_torchrun": ddp, "bf16_1proc": {"max_rel": bf16_rel, "dtype": "bfloat16"}}
    unlearn = {
        "ddp_2proc_torchrun": {"max_rel": ddp_rel, "adapter_max_abs": 1e-6},
        "ddp_2proc_accelerate": {"max_rel": ddp_rel, "adapter_max_abs": 1e-6},
        "bf16_1proc": {"max_rel": bf16_rel, "dtype": {"base": "bfloat16", "adapter": adapter}},
    }
    return train, unlearn


def test_verdict_applies_each_tolerance(bench) -> None:
    assert all(bench.verdict(*_results(1e-7, 1e-2)).values())
    assert not bench.verdict(*_results(1e-4, 1e-2))["ddp_losses_within_tolerance"]
    assert not bench.verdict(*_results(1e-7, 0.2))["bf16_losses_within_tolerance"]
    assert not bench.verdict(*_results(1e-7, 1e-2, adapter="bfloat16"))["bf16_runs_were_bf16"]
