"""How well a ranking finds known responsible rows, when the training rows carry ``is_poisoned`` labels (synthetic
and released packs; docs/method.md section 2). Used by ``rapidun trace`` (``quality.json``) and the benchmarks.

- ROC AUC = P(score of a random poisoned row > score of a random clean row), ties counting one half
  (the Mann-Whitney U statistic over n_pos * n_neg pairs, computed from average ranks).
- precision@k = poisoned rows among the top k / k; recall@k = poisoned rows among the top k / all poisoned rows;
  :func:`pr_curve` gives both for every k = 1..N (plotted as ``pr_at_k.png`` by :mod:`rapidun.tracing.pr_plot`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from rapidun.data.rows import Row


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``scores`` (N,) for the boolean labels ``positive`` (N,); needs both classes."""
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    assert n_pos and n_neg, "AUC needs both positive and negative rows"
    ranks = rankdata(np.asarray(scores, dtype=np.float64))  # average ranks: ties count one half
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def precision_recall_at(order: np.ndarray, positive: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall of the first ``k`` rows of ``order`` (row indices, best first)."""
    pos = np.asarray(positive, dtype=bool)
    hits = int(pos[np.asarray(order[:k], dtype=np.int64)].sum())
    return hits / k if k else 0.0, hits / int(pos.sum())


def pr_curve(order: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision@k and recall@k for k = 1..N, two (N,) arrays (entry k - 1 is the value at k), from ``order``
    (row indices, best first) and the boolean labels ``positive`` (N,); needs a positive row."""
    pos = np.asarray(positive, dtype=bool)
    hits = np.cumsum(pos[np.asarray(order, dtype=np.int64)])  # (N,) positives among the first k rows
    ks = np.arange(1, len(hits) + 1)
    return hits / ks, hits / int(pos.sum())


def ranking_quality(rows: Sequence[Row], aggregated: np.ndarray, order: np.ndarray, n_forget: int) -> dict[str, Any]:
    """AUC, precision / recall at k = the number of poisoned rows and at the proposed forget size; an empty dict
    when some row has no ``is_poisoned`` label or the rows are all of one class."""
    if any(r.is_poisoned is None for r in rows):
        return {}
    labels = np.array([bool(r.is_poisoned) for r in rows])
    n_pos = int(labels.sum())
    if n_pos in (0, len(rows)):
        return {}
    p_true, r_true = precision_recall_at(order, labels, n_pos)
    p_forget, r_forget = precision_recall_at(order, labels, n_forget)
    return {
        "n_rows": len(rows),
        "n_poisoned": n_pos,
        "roc_auc": roc_auc(aggregated, labels),
        "at_n_poisoned": {"k": n_pos, "precision": p_true, "recall": r_true},
        "at_forget": {"k": n_forget, "precision": p_forget, "recall": r_forget},
    }
