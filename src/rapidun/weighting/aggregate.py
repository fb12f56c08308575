"""Aggregation of a directional influence matrix into one score per training sample (docs/method.md section 3).

Convention (shared with the influence stage): ``scores`` has shape ``(n_query, n_train)``; row ``q`` holds the
influence of every training sample on query ``q``. Aggregation reduces over the query axis, giving ``(n_train,)``.

Two modes, one entry each in :data:`AGGREGATIONS`:

- ``"median"`` (rapidun default): element-wise median over queries of the raw scores.
- ``"topk_median"`` (faithful to the released RapidUn code): for every query keep only its ``top_k`` highest
  scores and set the rest to 0, then take the element-wise median over queries. With ``top_k`` = 40 and
  |R| = 120 retain rows, a retain sample is in the top 40 of fewer than half of the queries, so its median is
  exactly 0 for most samples: the fused retain scores collapse, their MAD is 0, the 1e-3 floor turns every
  non-zero score into a saturated z, and the released retain weights take only three values. The truncation
  level is absolute rather than relative to the set size, so we do not use it by default.

Missing scores (NaN, e.g. a RapidIn run with ``top_k`` smaller than the training set) are allowed in
``"topk_median"`` mode when every query has at least ``top_k`` known scores: RapidIn keeps each query's highest
scores, so any unknown score lies below the kept ones and would be truncated to 0 anyway.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rapidun.errors import RapidunError

FAITHFUL_TOP_K = 40


def median_over_queries(scores: np.ndarray, top_k: int = FAITHFUL_TOP_K) -> np.ndarray:
    """``(n_query, n_train) -> (n_train,)``: median of the raw scores over queries (``top_k`` is ignored)."""
    if np.isnan(scores).any():
        raise RapidunError(
            "influence scores have missing entries, which median aggregation cannot use; rerun RapidIn with "
            "top_k >= the training-set size or pass --aggregation topk_median"
        )
    return np.median(scores, axis=0)


def topk_median(scores: np.ndarray, top_k: int = FAITHFUL_TOP_K) -> np.ndarray:
    """``(n_query, n_train) -> (n_train,)``: keep each query's ``top_k`` highest scores (others 0), then median.

    Ties at the cut are broken by the lower training index (stable sort), as in RapidIn's sorted lists.
    """
    if top_k < 1:
        raise RapidunError(f"--top-k must be at least 1, got {top_k}")
    n_query, n_train = scores.shape
    known = ~np.isnan(scores)
    k = min(top_k, n_train)
    if (known.sum(axis=1) < k).any():
        raise RapidunError(
            f"some queries have fewer than top_k={k} known influence scores; rerun RapidIn with a larger top_k "
            "or lower --top-k"
        )
    # NaN -> -inf so that unknown scores sort last and are never kept.
    filled = np.where(known, scores, -np.inf)
    order = np.argsort(-filled, axis=1, kind="stable")[:, :k]
    kept = np.zeros_like(scores, dtype=np.float64)
    rows = np.arange(n_query)[:, None]
    kept[rows, order] = filled[rows, order]
    return np.median(kept, axis=0)


# Aggregation mode name -> function (scores (n_query, n_train), top_k) -> (n_train,).
AGGREGATIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "median": median_over_queries,
    "topk_median": topk_median,
}


def aggregate(scores: np.ndarray, mode: str = "median", top_k: int = FAITHFUL_TOP_K) -> np.ndarray:
    """Reduce ``scores`` of shape ``(n_query, n_train)`` over queries to ``(n_train,)`` float64 scores."""
    if mode not in AGGREGATIONS:
        raise RapidunError(f"unknown aggregation '{mode}'; choose one of {', '.join(AGGREGATIONS)}")
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise RapidunError(f"influence scores must be a non-empty (n_query, n_train) matrix, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise RapidunError("influence scores contain infinite values; recompute the influence stage")
    return AGGREGATIONS[mode](arr, top_k)
