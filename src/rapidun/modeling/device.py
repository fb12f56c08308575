"""Where a command puts its model: ``--device auto`` picks the launcher's GPU in a multi-process run, else the first
GPU when there is one, else the CPU; anything else (``cpu``, ``cuda``, ``cuda:1``, ``mps``) is taken as given."""

from __future__ import annotations

from typing import Any

import torch

from rapidun.errors import RapidunError


def resolve_device(spec: str = "auto", accelerator: Any = None) -> torch.device:
    """The torch device for ``spec``; with an ``accelerate.Accelerator``, ``auto`` is its per-process device."""
    if spec == "auto":
        if accelerator is not None:
            return torch.device(accelerator.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise RapidunError(f"--device '{spec}' is not a device; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RapidunError(f"--device {spec}: no CUDA GPU is visible to torch here; use --device cpu (or auto)")
    return device


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")
