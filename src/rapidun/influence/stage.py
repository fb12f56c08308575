"""The influence stage end to end: cache projected gradients of each set (:mod:`.caching`), then score every
direction.

Output contract (docs/method.md section 2), in ``out_dir``:
- ``scores.safetensors``: float32 ``FF`` (forget queries x forget train), ``FR`` (retain queries x forget train),
  ``RF`` (forget queries x retain train), ``RR`` (retain queries x retain train); or ``QT`` for arbitrary
  ``--query`` x ``--train`` sets. Entry [q, i] = <g(q), g(i)>.
- ``per_token.safetensors`` (with ``per_token``): the same keys, (n_query, max_len, n_train), position t of query q
  holding <g_t(q), g(i)>; summing over t gives the sequence score. ``<S>_input_ids`` (n_query, max_len), -1 = pad.
- ``topk.safetensors`` (with ``top_k``): ``<name>_values`` and ``<name>_indices`` (n_query, k), best first.
- ``rapidin/influence_results_<n_train>_<T>T<Q>.json``: RapidIn's format (train set T, query set Q).
- ``timings.json`` (seconds and peak memory per stage), ``manifest.json`` (resolved config; written last).
Gradient caches live in ``out_dir/cache/<set>`` unless ``cache_dir`` is given, and are reused when they match.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_json, clear_manifest, ensure_dir, read_manifest, write_manifest
from rapidun.costs import CostLedger
from rapidun.data.rows import Row, rows_hash
from rapidun.errors import RapidunError
from rapidun.influence import hotwords as hot
from rapidun.influence.caching import (
    SET_NAMES,
    InfluenceConfig,
    cache_gradients,
    cache_set,
    check_inputs,
    encode_set,
    shard_rows,
    store_key,
)
from rapidun.influence.contrastive import LOSS_TEXT, contrastive_partners
from rapidun.influence.gradient_store import GradientStore
from rapidun.influence.hooks import describe, select_layers
from rapidun.influence.outputs import write_outputs
from rapidun.influence.score import score_matrix
from rapidun.modeling.load import model_fingerprint

__all__ = [
    "InfluenceConfig",
    "InfluenceResult",
    "cache_gradients",
    "compute_influence",
    "compute_pairwise",
    "load_result",
    "run_influence",
    "shard_rows",
]
log = logging.getLogger(__name__)
FORGET_RETAIN_PAIRS = {"FF": ("F", "F"), "FR": ("R", "F"), "RF": ("F", "R"), "RR": ("R", "R")}  # (query, train)


@dataclass
class InfluenceResult:
    out_dir: Path
    scores: dict[str, np.ndarray]  # "FF", "FR", "RF", "RR" (or "QT"): (n_query, n_train) float32
    manifest: dict[str, Any]
    timings: dict[str, Any]


def run_influence(
    model: Any,
    tokenizer: Any,
    sets: dict[str, Sequence[Row]],
    pairs: dict[str, tuple[str, str]],
    out_dir: str | os.PathLike[str],
    cfg: InfluenceConfig,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    accelerator: Any = None,
) -> InfluenceResult:
    """Cache every set once, then score each ``pairs[name] = (query set, train set)``.

    With an ``accelerate.Accelerator`` of P processes, each process caches a contiguous, batch-aligned share of
    every set's rows into the same memory-mapped store (so each row's batch is the one a single process would
    use), rank 0 checks that the shares cover every row, scores and writes the outputs; the others wait and then
    read the finished result."""
    check_inputs(model, sets, cfg)
    out = ensure_dir(out_dir)
    model.eval()
    ledger = CostLedger()
    with ledger.stage("setup"):
        resolved, tracked_list = _resolved_settings(model, sets, pairs, cfg)
    done = read_manifest(out)
    if done is not None and not overwrite:
        if {k: done.get(k) for k in resolved} == json.loads(json.dumps(resolved)):
            log.info("influence results in %s are complete; reusing them (--overwrite to recompute)", out)
            return load_result(out)
        raise RapidunError(
            f"'{out}' holds influence results made with other settings; pass --overwrite or choose another --out"
        )
    clear_manifest(out)
    cache_root = Path(cache_dir) if cache_dir is not None else out / "cache"
    encoded = {k: encode_set(rows, tokenizer, cfg, SET_NAMES[k]) for k, rows in sets.items()}
    stores: dict[str, GradientStore] = {}
    for k, rows in sets.items():
        with ledger.stage(f"cache_{SET_NAMES[k]}"):
            key = store_key(resolved["model"], rows, cfg, resolved["tracked"], None)
            partners = None
            if cfg.loss == "trigger_contrastive":
                partners = contrastive_partners(rows, encoded[k], tokenizer, cfg.max_length, cfg.prompt_style)
            stores[k] = cache_set(
                model,
                tokenizer,
                encoded[k],
                cache_root / SET_NAMES[k],
                key,
                cfg,
                overwrite,
                progress,
                accelerator,
                partners,
            )
    if accelerator is not None and not accelerator.is_main_process:
        accelerator.wait_for_everyone()  # rank 0 scores and writes the outputs
        return load_result(out)
    queries, query_examples = _query_stores(
        model, tokenizer, sets, pairs, encoded, stores, cfg, cache_root, resolved, ledger, overwrite, progress
    )
    with ledger.stage("score"):
        scores = {name: score_matrix(queries[q], stores[t]).numpy() for name, (q, t) in pairs.items()}
    files = write_outputs(model, tokenizer, sets, pairs, scores, queries, query_examples, stores, cfg, out, ledger)
    timings = ledger.to_dict()
    atomic_write_json(out / "timings.json", timings)
    manifest = {
        **resolved,
        "files": files,
        "cache_dir": str(cache_root),
        "dim": stores[next(iter(stores))].dim,
        "tracked_layers": tracked_list,
    }
    write_manifest(out, manifest)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    return InfluenceResult(out, scores, manifest, timings)


def _resolved_settings(
    model: Any, sets: dict[str, Sequence[Row]], pairs: dict[str, tuple[str, str]], cfg: InfluenceConfig
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the results depend on (config, model fingerprint, tracked layers, loss, pairs, data hashes), as
    compared with a finished directory's manifest; and the tracked-layer descriptions."""
    layers = select_layers(model, cfg.params)
    tracked_list = [asdict(t) for t in describe(layers)]
    names = ",".join(dict.fromkeys(t["name"].removesuffix(".base_layer").split(".")[-1] for t in tracked_list))
    log.info("influence tracks %d layers (--params %s): %s", len(layers), cfg.params, names)
    resolved = {
        "stage": "influence",
        # the default loss is left out, so directories finished before the loss option existed are still reused
        "config": {k: v for k, v in asdict(cfg).items() if not (k == "loss" and v == "ce")},
        "model": model_fingerprint(model),
        "tracked": hashlib.sha256(json.dumps(tracked_list).encode()).hexdigest()[:16],
        "n_tracked_layers": len(layers),
        "loss": LOSS_TEXT[cfg.loss],
        "pairs": pairs,
        "sets": {k: {"name": SET_NAMES[k], "n": len(v), "data": rows_hash(v)} for k, v in sets.items()},
    }
    return resolved, tracked_list


def _query_stores(
    model: Any,
    tokenizer: Any,
    sets: dict[str, Sequence[Row]],
    pairs: dict[str, tuple[str, str]],
    encoded: dict[str, Any],
    stores: dict[str, GradientStore],
    cfg: InfluenceConfig,
    cache_root: Path,
    resolved: dict[str, Any],
    ledger: CostLedger,
    overwrite: bool,
    progress: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gradient store and encoded examples of each query set: the training-side ones, unless
    ``cfg.hotwords`` restricts the query loss to hot-word tokens (docs/method.md section 2), in which case each
    query set is re-cached with that restriction under ``<cache_root>/<set>-query``."""
    queries: dict[str, Any] = dict(stores)
    query_examples = dict(encoded)
    if not cfg.hotwords:
        return queries, query_examples
    for k in sorted({q for q, _ in pairs.values()}):
        with ledger.stage(f"cache_{SET_NAMES[k]}_query"):
            query_examples[k] = hot.restrict(encoded[k], tokenizer, cfg.hotwords, SET_NAMES[k])
            key = store_key(resolved["model"], sets[k], cfg, resolved["tracked"], list(cfg.hotwords))
            queries[k] = cache_gradients(
                model,
                tokenizer,
                query_examples[k],
                cache_root / f"{SET_NAMES[k]}-query",
                key,
                cfg,
                overwrite=overwrite,
                progress=progress,
            )
    return queries, query_examples


def load_result(out_dir: str | os.PathLike[str]) -> InfluenceResult:
    """Read a finished influence directory (scores, manifest, timings)."""
    from safetensors.numpy import load_file

    out = Path(out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        raise RapidunError(f"'{out}' has no finished influence results (no manifest.json); run 'rapidun influence'")
    timings = json.loads((out / "timings.json").read_text()) if (out / "timings.json").is_file() else {}
    return InfluenceResult(out, load_file(str(out / "scores.safetensors")), manifest, timings)


def compute_influence(
    model: Any,
    tokenizer: Any,
    forget_rows: Sequence[Row],
    retain_rows: Sequence[Row],
    out_dir: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    accelerator: Any = None,
    cfg: InfluenceConfig | None = None,
    **settings: Any,
) -> InfluenceResult:
    """FF, FR, RF, RR for a forget and a retain set. Settings: a typed ``cfg``, or keyword fields of
    :class:`InfluenceConfig` (set on top of ``cfg`` when both are given)."""
    cfg = _config(cfg, settings)
    return run_influence(
        model,
        tokenizer,
        {"F": forget_rows, "R": retain_rows},
        FORGET_RETAIN_PAIRS,
        out_dir,
        cfg,
        cache_dir=cache_dir,
        overwrite=overwrite,
        progress=progress,
        accelerator=accelerator,
    )


def compute_pairwise(
    model: Any,
    tokenizer: Any,
    train_rows: Sequence[Row],
    query_rows: Sequence[Row],
    out_dir: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    accelerator: Any = None,
    cfg: InfluenceConfig | None = None,
    **settings: Any,
) -> InfluenceResult:
    """``QT`` (query x train) scores for arbitrary sets (settings as in :func:`compute_influence`)."""
    cfg = _config(cfg, settings)
    return run_influence(
        model,
        tokenizer,
        {"T": train_rows, "Q": query_rows},
        {"QT": ("Q", "T")},
        out_dir,
        cfg,
        cache_dir=cache_dir,
        overwrite=overwrite,
        progress=progress,
        accelerator=accelerator,
    )


def _config(cfg: InfluenceConfig | None, settings: dict[str, Any]) -> InfluenceConfig:
    """The typed settings, checked before any model work; keyword ``settings`` are checked like a YAML mapping."""
    from rapidun.settings import from_mapping

    chosen: InfluenceConfig = from_mapping(
        InfluenceConfig, settings, "influence settings", base=cfg if cfg is not None else InfluenceConfig()
    )
    chosen.validate()
    return chosen
