"""Which report tokens drive each proposed forget row (``per_token``; influence ranker only; docs/method.md
section 2, "Per-token scores").

A report's projected gradient is a sum over its positions, g(q) = sum_t g_t(q) (:func:`project_tokens`), so its
score with training row i splits into <g_t(q), g(i)>, whose sum over t is the signed pair score (with the default
``influence_score="abs"`` the ranking used its magnitude: a negative sum means the row opposes the report's wording).
Written for the forget rows only (the rows a user will inspect), in ``out_dir``:

- ``per_token.safetensors``: ``scores`` (n_reports, max_len, n_forget) float32, ``input_ids`` (n_reports, max_len)
  with -1 past each report's end, ``forget_indices`` (n_forget,) the training-row index of each column.
- ``per_token.jsonl``: per forget row, for each report, its pair score and the report tokens with the largest
  contributions (decoded text, position, contribution), largest first.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from rapidun.artifacts import atomic_write_jsonl
from rapidun.influence.caching import tracked_layers
from rapidun.influence.extract import project_tokens
from rapidun.tracing.ranker_registry import RankInputs
from rapidun.tracing.rankers.influence import influence_stores

TOP_TOKENS = 5  # report tokens listed per (forget row, report) pair in per_token.jsonl


def _rows(store: Any, indices: np.ndarray) -> torch.Tensor:
    """(len(indices), K) float32 rows of a gradient store, read from its memory map (not the whole store)."""
    grads, scale = store.rows()
    out = torch.from_numpy(np.asarray(grads[indices], dtype=np.float32))
    return out * torch.from_numpy(np.asarray(scale[indices], dtype=np.float32))[:, None] if scale is not None else out


def write_token_view(inputs: RankInputs, forget: np.ndarray) -> list[str]:
    """Per-token scores of every report against the forget rows; returns the files written."""
    from safetensors.torch import save_file

    stores, examples = influence_stores(inputs)  # finished by the ranker: opened, not recomputed
    icfg = inputs.cfg.influence()
    layers, projector = tracked_layers(inputs.model, icfg)
    vecs = project_tokens(inputs.model, layers, projector, examples, inputs.tokenizer.pad_token_id, icfg.batch_size)
    forget = np.asarray(forget, dtype=np.int64)
    top = _rows(stores["train"], forget)
    width = max(len(v) for v in vecs)
    scores = torch.zeros(len(vecs), width, len(forget))
    ids = torch.full((len(vecs), width), -1, dtype=torch.long)
    for q, (v, ex) in enumerate(zip(vecs, examples, strict=True)):
        scores[q, : len(v)] = v @ top.T
        ids[q, : len(ex.input_ids)] = torch.tensor(ex.input_ids)
    out = inputs.out_dir
    save_file(
        {"scores": scores, "input_ids": ids, "forget_indices": torch.from_numpy(forget)}, str(out / ".per_token.tmp")
    )
    os.replace(out / ".per_token.tmp", out / "per_token.safetensors")
    atomic_write_jsonl(out / "per_token.jsonl", _readable(inputs.tokenizer, scores, ids, forget))
    return ["per_token.safetensors", "per_token.jsonl"]


def _readable(tokenizer: Any, scores: torch.Tensor, ids: torch.Tensor, forget: np.ndarray) -> list[dict[str, Any]]:
    lines = []
    for j, row in enumerate(forget):
        reports = []
        for q in range(scores.shape[0]):
            n = int((ids[q] >= 0).sum())
            contrib = scores[q, :n, j]
            best = torch.argsort(contrib, descending=True, stable=True)[:TOP_TOKENS].tolist()
            tokens = [
                {"position": t, "token": tokenizer.decode([int(ids[q, t])]), "score": float(contrib[t])} for t in best
            ]
            reports.append({"report": q, "score": float(contrib.sum()), "tokens": tokens})
        lines.append({"index": int(row), "reports": reports})
    return lines
