"""Checks and writers for an unlearning run's outputs: did LoRA change, did the base stay put, what did it cost."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from rapidun.costs import CostLedger
from rapidun.errors import RapidunError

# Files and dirs an unlearning run may leave in its --out; removed by --overwrite (nothing else is touched).
RUN_ARTIFACTS = (
    "checkpoint",
    ".checkpoint.old",
    ".checkpoint.tmp",
    "evaluations.json",
    "best_state.safetensors",
    "loreun_weights.json",
    "training_progress.json",
    "unlearn_config.json",
    "run.json",
    "adapter_config.json",
    "adapter_model.safetensors",
    "README.md",
    "weights",
    "influence",
    "merged",
)
# Stages every run.json reports, zero when a method skips them, so every method's cost is comparable.
COST_STAGES = ("influence", "weights", "training")


def clear_run(out: Path) -> None:
    for name in RUN_ARTIFACTS:
        clear_item(out / name)


@torch.no_grad()
def frozen_checksum(model: Any, frozen_only: bool = True) -> list[float]:
    """One float64 sum per frozen (or every) parameter; equal lists mean (with overwhelming probability)
    unchanged weights."""
    return [
        float(p.detach().sum(dtype=torch.float64)) for p in model.parameters() if not (frozen_only and p.requires_grad)
    ]


@torch.no_grad()
def lora_change(model: Any) -> dict[str, int]:
    """How many ``lora_B`` tensors (initialised to zero by PEFT) are now non-zero."""
    b = [p for n, p in model.named_parameters() if "lora_B" in n]
    changed = sum(int(bool(p.abs().sum() > 0)) for p in b)
    return {"lora_b_tensors": len(b), "changed": changed}


def check_lora_trained(model: Any, before: list[float]) -> dict[str, Any]:
    """Raise if no LoRA weight changed (e.g. gradient checkpointing without input grads) or a base weight did."""
    report: dict[str, Any] = dict(lora_change(model))
    if report["changed"] == 0:
        raise RapidunError(
            "training finished but no LoRA weight changed (all lora_B are still zero); with "
            "gradient checkpointing make sure inputs require grad, and check --lr"
        )
    report["base_unchanged"] = frozen_checksum(model) == before
    if not report["base_unchanged"]:
        raise RapidunError("a frozen base weight changed during LoRA training; this is a bug, please report it")
    return report


def load_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    named = dict(model.named_parameters())
    with torch.no_grad():
        for n, t in state.items():
            named[n].copy_(t)


def stage_costs(ledger: CostLedger) -> dict[str, dict[str, float]]:
    """Seconds (summed) and peak memory (max) per stage name; influence/weights/training always present."""
    out: dict[str, dict[str, float]] = {
        name: {"seconds": 0.0, "peak_rss_mb": 0.0, "peak_cuda_mb": 0.0, "ran": False} for name in COST_STAGES
    }
    for s in ledger.stages:
        d = out.setdefault(s.name, {"seconds": 0.0, "peak_rss_mb": 0.0, "peak_cuda_mb": 0.0, "ran": False})
        d["seconds"] += s.seconds
        d["peak_rss_mb"] = max(d["peak_rss_mb"], s.peak_rss_mb)
        d["peak_cuda_mb"] = max(d["peak_cuda_mb"], s.peak_cuda_mb)
        d["ran"] = True
    return out


def clear_item(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def merge_existing_adapter(model: Any) -> Any:
    """A model that already carries a PEFT adapter (e.g. the LoRA that implanted the backdoor) is merged first,
    so the new unlearning adapter sits on the model as the user has it."""
    if hasattr(model, "merge_and_unload") and hasattr(model, "peft_config"):
        return model.merge_and_unload()
    return model
