"""Projected per-sample gradients of one batch: one forward, one activation-gradient backward (docs/method.md section 2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from rapidun.influence.hooks import backward_sum, capture
from rapidun.influence.projection import Projector
from rapidun.modeling.loss import per_sample_loss


def project_batch(
    model: Any,
    layers: Sequence[tuple[str, nn.Module]],
    projector: Projector,
    batch: dict[str, torch.Tensor],
    *,
    per_token: bool = False,
) -> torch.Tensor:
    """g(z) for every sample of ``batch``: (batch, K) float32 on the model's device, or (batch, seq, K) with
    ``per_token`` (position-wise terms that sum over seq to the sequence vector). The model's parameters must be
    frozen (see :func:`rapidun.influence.hooks.frozen`); the loss is the token-mean response cross-entropy."""
    device = batch["input_ids"].device
    acc = projector.start(batch["input_ids"].shape[0], batch["input_ids"].shape[1], per_token=per_token, device=device)
    with torch.enable_grad(), capture(layers, acc.add, (batch["input_ids"].shape[0], batch["input_ids"].shape[1])):
        losses = per_sample_loss(model, batch)
        backward_sum(losses)
    return acc.finish()
