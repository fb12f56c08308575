"""Files of a finished influence run: ``scores.safetensors``, per-token scores, top-k, RapidIn exports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rapidun.costs import CostLedger
from rapidun.data.rows import Row
from rapidun.data.tokenize import Encoded
from rapidun.influence.caching import InfluenceConfig, tracked_layers
from rapidun.influence.extract import project_tokens
from rapidun.influence.gradient_store import GradientStore
from rapidun.influence.projection import Projector
from rapidun.influence.rapidin_json import write_rapidin_json
from rapidun.influence.score import score_matrix, top_k


def save_scores(scores: dict[str, np.ndarray], out: Path) -> str:
    """``scores.safetensors`` (atomically); returns its name."""
    from safetensors.numpy import save_file

    save_file(scores, str(out / ".scores.tmp"))
    os.replace(out / ".scores.tmp", out / "scores.safetensors")
    return "scores.safetensors"


def write_top_k(
    queries: dict[str, Any], stores: dict[str, GradientStore], pairs: dict[str, tuple[str, str]], k: int, out: Path
) -> str:
    """``topk.safetensors``: ``<name>_values`` / ``<name>_indices`` (n_query, k), exact, best first."""
    from safetensors.torch import save_file

    best: dict[str, torch.Tensor] = {}
    for name, (q, t) in pairs.items():
        best[f"{name}_values"], best[f"{name}_indices"] = top_k(queries[q], stores[t], k)
    save_file(best, str(out / ".topk.tmp"))
    os.replace(out / ".topk.tmp", out / "topk.safetensors")
    return "topk.safetensors"


def write_per_token(
    model: Any,
    layers: Sequence[tuple[str, nn.Module]],
    projector: Projector,
    pad_id: int,
    batch_size: int,
    examples: dict[str, list[Encoded]],
    stores: dict[str, GradientStore],
    pairs: dict[str, tuple[str, str]],
    out: Path,
) -> str:
    """``per_token.safetensors``: for each pair, (n_query, max_len, n_train) with position t of query q holding
    <g_t(q), g(i)>, and ``<Q>_input_ids`` (n_query, max_len), -1 past each query's end."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for q in sorted({q for q, _ in pairs.values()}):
        vecs = project_tokens(model, layers, projector, examples[q], pad_id, batch_size)
        width = max(len(v) for v in vecs)
        ids = torch.full((len(vecs), width), -1, dtype=torch.long)
        for i, ex in enumerate(examples[q]):
            ids[i, : len(ex.input_ids)] = torch.tensor(ex.input_ids)
        tensors[f"{q}_input_ids"] = ids
        for name, (qq, t) in pairs.items():
            if qq != q:
                continue
            mat = torch.zeros(len(vecs), width, stores[t].n_rows)
            for i, v in enumerate(vecs):
                # Query tokens in float32 against the cached train rows: the sum over t equals the sequence score
                # up to the rounding of the cached query row (exactly with dtype fp32).
                mat[i, : len(v)] = score_matrix(v, stores[t])
            tensors[name] = mat
    save_file(tensors, str(out / ".per_token.tmp"))
    os.replace(out / ".per_token.tmp", out / "per_token.safetensors")
    return "per_token.safetensors"


def export_rapidin(
    scores: dict[str, np.ndarray],
    sets: dict[str, Sequence[Row]],
    pairs: dict[str, tuple[str, str]],
    out: Path,
    top_k_rows: int | None,
    config: dict[str, Any],
) -> list[str]:
    """``rapidin/influence_results_<n_train>_<T>T<Q>.json`` per pair, named like the released files."""
    files = []
    for name, (q, t) in pairs.items():
        test_data = [{"instruction": r.instruction, "input": r.context, "output": r.response} for r in sets[q]]
        path = out / "rapidin" / f"influence_results_{len(sets[t])}_{t}T{q}.json"
        write_rapidin_json(path, scores[name], test_data=test_data, top_k=top_k_rows, config=config)
        files.append(str(path.relative_to(out)))
    return files


def write_outputs(
    model: Any,
    tokenizer: Any,
    sets: dict[str, Sequence[Row]],
    pairs: dict[str, tuple[str, str]],
    scores: dict[str, np.ndarray],
    queries: dict[str, Any],
    query_examples: dict[str, Any],
    stores: dict[str, GradientStore],
    cfg: InfluenceConfig,
    out: Path,
    ledger: CostLedger,
) -> list[str]:
    """Write the score matrices and, as configured, top-k, per-token scores and RapidIn's JSON; returns the
    files written (for the manifest)."""
    files = [save_scores(scores, out)]
    if cfg.top_k:
        with ledger.stage("top_k"):
            files.append(write_top_k(queries, stores, pairs, cfg.top_k, out))
    if cfg.per_token:
        with ledger.stage("per_token"):
            layers, projector = tracked_layers(model, cfg)
            files.append(
                write_per_token(
                    model, layers, projector, tokenizer.pad_token_id, cfg.batch_size, query_examples, stores, pairs, out
                )
            )
    if cfg.rapidin_json:
        with ledger.stage("export_rapidin"):
            config = {"writer": "rapidun", **asdict(cfg)}
            files.extend(export_rapidin(scores, sets, pairs, out, cfg.top_k, config))
    return files
