"""Scores from cached gradients: chunked matrix products I(q, i) = <g(q), g(i)> and exact top-k (docs/method.md section 2).

Training rows are read from the memory-mapped cache in chunks, converted once to float32 and multiplied against
all queries at once, so the conversion is amortised over the queries and the product runs as one GEMM per chunk.
A chunk holds at most ``CHUNK_BYTES`` of float32 rows (4,096 rows at K = 4,096, 256 rows at K = 65,536), so the
memory a scoring pass needs is bounded by that, whatever the number of training rows.
"""

from __future__ import annotations

import numpy as np
import torch

from rapidun.influence.gradient_store import GradientStore

CHUNK_BYTES = 64 * 2**20


def chunk_rows(dim: int) -> int:
    """Training rows per chunk for K = ``dim``: as many float32 rows as fit in ``CHUNK_BYTES`` (at least 1)."""
    return max(1, CHUNK_BYTES // (4 * max(dim, 1)))


def _f32(a: np.ndarray) -> torch.Tensor:
    # Copy the (read-only, memory-mapped) rows in their stored type, then convert with torch (vectorised fp16).
    return torch.from_numpy(np.array(a, copy=True)).float()


def _chunk(store: GradientStore | np.ndarray, start: int, stop: int) -> torch.Tensor:
    if isinstance(store, np.ndarray):
        return _f32(store[start:stop])
    grads, scale = store.rows()
    out = _f32(grads[start:stop])
    if scale is not None:
        out *= _f32(scale[start:stop])[:, None]
    return out


def _n(store: GradientStore | np.ndarray) -> int:
    return len(store) if isinstance(store, np.ndarray) else store.n_rows


def as_queries(store: GradientStore | np.ndarray | torch.Tensor) -> torch.Tensor:
    """The query vectors as one float32 (n_query, K) tensor."""
    if isinstance(store, torch.Tensor):
        return store.float()
    return _chunk(store, 0, _n(store))


def score_matrix(
    queries: GradientStore | np.ndarray | torch.Tensor, train: GradientStore | np.ndarray, chunk: int | None = None
) -> torch.Tensor:
    """All scores, (n_query, n_train) float32. ``queries`` may also be (..., K) (e.g. per-token vectors): the
    result is then (..., n_train)."""
    q = as_queries(queries)
    flat = q.reshape(-1, q.shape[-1])
    n = _n(train)
    chunk = chunk or chunk_rows(q.shape[-1])
    out = torch.empty(flat.shape[0], n, dtype=torch.float32)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        torch.mm(flat, _chunk(train, s, e).T, out=out[:, s:e])
    return out.reshape(*q.shape[:-1], n)


def top_k(
    queries: GradientStore | np.ndarray | torch.Tensor,
    train: GradientStore | np.ndarray,
    k: int,
    *,
    largest: bool = True,
    chunk: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact top-``k`` training rows of every query: values and indices, each (n_query, k), best first.
    Only (n_query, chunk + k) scores are held at a time; ties go to the lower index."""
    q = as_queries(queries)
    n = _n(train)
    k = min(k, n)
    chunk = chunk or chunk_rows(q.shape[-1])
    best_v = torch.empty(len(q), 0)
    best_i = torch.empty(len(q), 0, dtype=torch.long)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        v = torch.cat([best_v, q @ _chunk(train, s, e).T], dim=1)
        i = torch.cat([best_i, torch.arange(s, e).expand(len(q), -1)], dim=1)
        # A stable sort (not topk) so that equal scores keep the lower index, whatever the chunking.
        order = torch.sort(v, dim=1, descending=largest, stable=True).indices[:, :k]
        best_v, best_i = v.gather(1, order), i.gather(1, order)
    return best_v, best_i
