"""Filling a gradient store: fixed batches, one forward and one activation-gradient backward each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from rapidun.data.tokenize import Encoded, collate
from rapidun.influence.contrastive import project_contrastive_batch
from rapidun.influence.gradient_store import GradientStore
from rapidun.influence.gradients import project_batch
from rapidun.influence.hooks import frozen
from rapidun.influence.projection import Projector


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def fill_store(
    model: Any,
    layers: Sequence[tuple[str, nn.Module]],
    projector: Projector,
    examples: Sequence[Encoded],
    pad_id: int,
    store: GradientStore,
    *,
    batch_size: int,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
    desc: str = "gradients",
    partners: Sequence[Encoded] | None = None,
) -> None:
    """Compute rows ``shard`` = [start, end) of ``store`` (default: all) that are not on disk yet. With
    ``partners`` (one per example), each row's gradient is that of the trigger-contrastive loss
    (:mod:`rapidun.influence.contrastive`).

    Batches are ``examples[s : s + batch_size]`` for s = start, start + batch_size, ...: the same composition on
    every run, so a resumed store is bit-identical to an uninterrupted one. Other processes may fill other shards
    of the same store concurrently."""
    start, end = shard if shard is not None else (0, len(examples))
    todo = list(store.pending(start, end, batch_size))
    if not todo:
        return
    device = next(model.parameters()).device
    with frozen(model), tqdm(total=end - start, initial=todo[0][0] - start, desc=desc, disable=not progress) as bar:
        for s, e in todo:
            if partners is None:
                batch = to_device(collate(examples[s:e], pad_id), device)
                rows = project_batch(model, layers, projector, batch)
            else:
                batch = to_device(collate([*examples[s:e], *partners[s:e]], pad_id), device)
                rows = project_contrastive_batch(model, layers, projector, batch)
            store.write(s, rows, shard=(start, end))
            bar.update(e - s)


def project_tokens(
    model: Any,
    layers: Sequence[tuple[str, nn.Module]],
    projector: Projector,
    examples: Sequence[Encoded],
    pad_id: int,
    batch_size: int,
) -> list[torch.Tensor]:
    """Per-token vectors of each example, (len(input_ids), K) float32 on the CPU (position t: delta_t^T x_t)."""
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    with frozen(model):
        for s in range(0, len(examples), batch_size):
            chunk = examples[s : s + batch_size]
            v = project_batch(model, layers, projector, to_device(collate(chunk, pad_id), device), per_token=True)
            out.extend(v[b, : len(ex.input_ids)].cpu() for b, ex in enumerate(chunk))
    return out
