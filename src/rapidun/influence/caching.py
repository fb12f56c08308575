"""Caching one set's projected gradients (docs/method.md section 2, stage *cache*): the stage config, input checks,
the store key that decides when a cache may be reused, and the row sharding of multi-process runs.

A store holds one row per example: g(z) of shape (K,) = the projected, layer-normalised gradient of the per-sample
loss L(z) (token-mean response cross-entropy) with respect to the tracked linear layers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.data.rows import Row, overlapping_rows, rows_hash
from rapidun.data.tokenize import Encoded, encode_rows
from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.influence.contrastive import LOSS_TEXT
from rapidun.influence.extract import fill_store
from rapidun.influence.gradient_store import GradientStore, open_store
from rapidun.influence.hooks import describe, select_layers
from rapidun.influence.projector_registry import make_projector

log = logging.getLogger(__name__)
SET_NAMES = {"F": "forget", "R": "retain", "T": "train", "Q": "query"}
__all__ = ["InfluenceConfig", "cache_gradients", "cache_set", "check_inputs", "encode_set", "shard_rows", "store_key"]


def encode_set(rows: Sequence[Row], tokenizer: Any, cfg: InfluenceConfig, name: str) -> list[Encoded]:
    enc = encode_rows(rows, tokenizer, cfg.max_length, cfg.prompt_style, name=name)
    if enc.skipped:
        raise RapidunError(
            f"{name} row(s) {enc.skipped[:5]} keep no response token within --max-length "
            f"{cfg.max_length}; raise --max-length or remove them"
        )
    return enc.examples


def check_inputs(model: Any, sets: dict[str, Sequence[Row]], cfg: InfluenceConfig) -> None:
    for key, rows in sets.items():
        if not rows:
            raise RapidunError(
                f"the {SET_NAMES[key]} set is empty; pass a file with at least one row (--{SET_NAMES[key]})"
            )
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if context is not None and cfg.max_length > context:
        raise RapidunError(
            f"--max-length {cfg.max_length} exceeds the model's context length {context}; "
            f"use --max-length {context} or less"
        )
    if "F" in sets and "R" in sets:
        dup = overlapping_rows(sets["F"], sets["R"])
        if dup:
            log.warning("forget row(s) %s also appear in the retain set; their scores will mix both roles", dup[:5])


def cache_gradients(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Encoded],
    directory: str | os.PathLike[str],
    key: dict[str, Any],
    cfg: InfluenceConfig,
    *,
    overwrite: bool = False,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    finalize: bool = True,
    tracked: tuple[list[Any], Any] | None = None,
    partners: Sequence[Encoded] | None = None,
) -> GradientStore:
    """Projected gradients of ``examples`` in a (resumable, reusable) store. ``shard`` limits this call to rows
    [start, end) (one process of several); ``finalize`` writes the manifest once every row is present;
    ``tracked`` = (layers, projector) when the caller already built them."""
    layers, projector = tracked if tracked is not None else tracked_layers(model, cfg)
    store = open_store(directory, len(examples), projector.dim, cfg.dtype, key, overwrite=overwrite)
    if store.complete:
        return store
    fill_store(
        model,
        layers,
        projector,
        examples,
        tokenizer.pad_token_id,
        store,
        batch_size=cfg.batch_size,
        shard=shard,
        progress=progress,
        desc=f"gradients {Path(directory).name}",
        partners=partners,
    )
    if finalize:
        store.finalize(projector.state(), {"tracked_layers": len(layers)})
    return store


def tracked_layers(model: Any, cfg: InfluenceConfig) -> tuple[list[Any], Any]:
    """The tracked layers and the (seeded, deterministic) projector for them."""
    layers = select_layers(model, cfg.params)
    return layers, make_projector(cfg.projector, describe(layers), cfg.dim, cfg.seed, cfg.layer_norm)


def shard_rows(n: int, batch_size: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [start, end) of process ``rank`` of ``world``: contiguous whole batches, so every row lands in the batch
    it would have in a single process (same padding, same numbers)."""
    n_batches = -(-n // batch_size)
    per, extra = divmod(n_batches, world)
    first = rank * per + min(rank, extra)
    last = first + per + (1 if rank < extra else 0)
    return min(n, first * batch_size), min(n, last * batch_size)


def cache_set(
    model: Any,
    tokenizer: Any,
    examples: Sequence[Encoded],
    directory: Path,
    key: dict[str, Any],
    cfg: InfluenceConfig,
    overwrite: bool,
    progress: bool,
    accelerator: Any,
    partners: Sequence[Encoded] | None = None,
) -> GradientStore:
    """One set's store, filled by this process alone or by its share of several processes (``partners``: the
    trigger-contrastive partner of each example, :mod:`rapidun.influence.contrastive`)."""
    if accelerator is None or accelerator.num_processes == 1:
        return cache_gradients(
            model, tokenizer, examples, directory, key, cfg, overwrite=overwrite, progress=progress, partners=partners
        )
    rank, world = accelerator.process_index, accelerator.num_processes
    layers, projector = tracked_layers(model, cfg)
    if rank == 0:  # creates (or checks) the store before anyone writes into it
        open_store(directory, len(examples), projector.dim, cfg.dtype, key, overwrite=overwrite)
    accelerator.wait_for_everyone()
    shard = shard_rows(len(examples), cfg.batch_size, rank, world)
    store = cache_gradients(
        model,
        tokenizer,
        examples,
        directory,
        key,
        cfg,
        progress=progress and rank == 0,
        shard=shard,
        finalize=False,
        tracked=(layers, projector),
        partners=partners,
    )
    accelerator.wait_for_everyone()
    if rank == 0 and not store.complete:
        store.finalize(projector.state(), {"tracked_layers": len(layers), "processes": world})
    accelerator.wait_for_everyone()
    return store


def store_key(fingerprint: str, rows: Sequence[Row], cfg: InfluenceConfig, tracked: str, hotwords: Any) -> dict:
    return {
        "model": fingerprint,
        "params": cfg.params,
        "tracked": tracked,
        "loss": LOSS_TEXT[cfg.loss],
        "projector": cfg.projector,
        "dim": cfg.dim,
        "seed": cfg.seed,
        "layer_norm": cfg.layer_norm,
        "data": rows_hash(rows),
        "max_length": cfg.max_length,
        "prompt_style": cfg.prompt_style,
        "hotwords": hotwords,
        "batch_size": cfg.batch_size,
    }
