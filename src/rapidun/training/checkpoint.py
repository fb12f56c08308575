"""Resumable training state, stored as safetensors + JSON only (no pickle).

A checkpoint directory holds ``trainable.safetensors`` (the trained parameters by name), ``optimizer.safetensors``
(AdamW moments), ``rng.safetensors`` (torch RNG state) and ``state.json`` (step, optimiser/scheduler scalars, loss
history), written last. It is built under a temporary name and swapped in by rename, so a kill at any moment leaves
either the previous checkpoint or the new one, never a mixture.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rapidun.artifacts import atomic_write_json

CHECKPOINT = "checkpoint"


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    extra: dict[str, Any],
) -> None:
    """Write the state after ``step`` optimiser steps to ``run_dir/checkpoint`` atomically."""
    tmp = run_dir / f".{CHECKPOINT}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
    opt_state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, st in opt_state["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value.detach().contiguous().clone()
            else:
                scalars[f"{idx}.{key}"] = value
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    save_file({"torch": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
    sched_state = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    state = {
        "step": step,
        "param_groups": opt_state["param_groups"],
        "optimizer_scalars": scalars,
        "scheduler": sched_state,
        "python_random": _jsonable_random_state(),
        "extra": extra,
    }
    atomic_write_json(tmp / "state.json", state)  # last: marks the checkpoint complete
    final, old = run_dir / CHECKPOINT, run_dir / f".{CHECKPOINT}.old"
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def find_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint under ``run_dir`` (also one left mid-swap by a kill), or None."""
    for cand in (run_dir / CHECKPOINT, run_dir / f".{CHECKPOINT}.old"):
        if (cand / "state.json").is_file():
            return cand
    return None


def load_checkpoint(
    ckpt: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> tuple[int, dict[str, Any]]:
    """Restore model parameters, optimiser, scheduler and RNG; returns (step, extra)."""
    state = json.loads((ckpt / "state.json").read_text())
    params = load_file(str(ckpt / "trainable.safetensors"))
    named = dict(model.named_parameters())
    missing = [n for n in params if n not in named]
    if missing:
        raise ValueError(f"checkpoint {ckpt} has parameters this model lacks: {missing[:3]}")
    with torch.no_grad():
        for n, t in params.items():
            named[n].copy_(t)
    tensors = load_file(str(ckpt / "optimizer.safetensors"))
    opt_state: dict[str, Any] = {"state": {}, "param_groups": state["param_groups"]}
    for key, value in list(tensors.items()) + list(state["optimizer_scalars"].items()):
        idx, name = key.split(".", 1)
        opt_state["state"].setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict(opt_state)
    scheduler.load_state_dict({**scheduler.state_dict(), **state["scheduler"]})
    torch.set_rng_state(load_file(str(ckpt / "rng.safetensors"))["torch"])
    version, internal, gauss = state["python_random"]
    random.setstate((version, tuple(internal), gauss))
    return int(state["step"]), dict(state["extra"])


def _jsonable_random_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]
