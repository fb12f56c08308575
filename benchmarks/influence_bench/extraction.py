"""The speed table's variants built on our own hooks: each is a no-argument function over fixed batches.

- plain: forward + backward with weight gradients (the memory reference);
- floor: forward + activation-gradient backward with the layer hooks on and no weight gradients (the speed
  reference: no gradient extraction can be cheaper);
- a projector: our hook-based per-sample gradient extraction with that projector, stored as fp16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rapidun.influence.gradients import project_batch
from rapidun.influence.hooks import backward_sum, capture, frozen
from rapidun.modeling.loss import per_sample_loss

Batches = list[dict[str, torch.Tensor]]


def plain_variant(model: torch.nn.Module, batches: Batches, refreeze: bool = False) -> Callable[[], None]:
    """Forward + backward with every weight gradient; ``refreeze`` turns gradients off again afterwards."""

    def run() -> None:
        for p in model.parameters():
            p.requires_grad_(True)
        for b in batches:
            per_sample_loss(model, b).sum().backward()
            model.zero_grad(set_to_none=True)
        if refreeze:
            for p in model.parameters():
                p.requires_grad_(False)

    return run


def floor_variant(model: torch.nn.Module, layers: Any, batches: Batches) -> Callable[[], None]:
    """Forward + backward to the activations of the tracked layers only (hooks on, no weight gradients)."""

    def run() -> None:
        with frozen(model), capture(layers, None), torch.enable_grad():
            for b in batches:
                backward_sum(per_sample_loss(model, b))

    return run


def projector_variant(
    model: torch.nn.Module, layers: Any, projector: Any, batches: Batches, to_host: bool = False
) -> Callable[[], None]:
    """Projected per-sample gradients of every batch, cast to fp16 as cached (``to_host``: copied to the CPU)."""

    def run() -> None:
        with frozen(model):
            for b in batches:
                g = project_batch(model, layers, projector, b).to(torch.float16)
                if to_host:
                    g.cpu()

    return run
