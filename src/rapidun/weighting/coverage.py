"""Coverage weights: forget weights rescaled so every cluster of similar forget rows keeps the same mean weight
(docs/method.md section 5, ``rapidun_coverage``).

Influence weights pile onto the most common kind of forget row (e.g. one response template): its rows resemble
many others, so their FF scores, and weights, are high. Here the forget rows are clustered by the cosine of their
FF influence, c(i, j) = FF[i, j] / sqrt(FF[i, i] FF[j, j]) (symmetrised; FF[i, i] = <g(i), g(i)> > 0), with
average-linkage hierarchical clustering cut into ``n_clusters`` clusters (default ceil(sqrt(nF)): projected
cosines between rows are small and vary by model, so a fixed distance cut is not portable; ``max_distance`` cuts at
a cosine distance instead). Each weight is then divided
by its cluster's mean weight, w'(i) = w(i) / mean_{j in C(i)} w(j): every cluster's mean weight is 1 (so is the
overall mean), the order within a cluster is kept, and rare kinds of row are no longer starved.
"""

from __future__ import annotations

import numpy as np

from rapidun.errors import RapidunError


def ff_cosine(ff: np.ndarray) -> np.ndarray:
    """Symmetric cosine similarity (nF, nF) from the FF score matrix (nF, nF); a row with a zero self-score has
    cosine 0 with every other row (1 with itself)."""
    ff = np.asarray(ff, dtype=np.float64)
    if ff.ndim != 2 or ff.shape[0] != ff.shape[1]:
        raise RapidunError(f"coverage needs a square FF matrix, got shape {ff.shape}")
    sym = (ff + ff.T) / 2.0
    diag = np.sqrt(np.clip(np.diag(sym), 0.0, None))
    denom = np.outer(diag, diag)
    cos = np.divide(sym, denom, out=np.zeros_like(sym), where=denom > 0)
    np.fill_diagonal(cos, 1.0)
    return np.clip(cos, -1.0, 1.0)


def ff_clusters(ff: np.ndarray, n_clusters: int = 0, max_distance: float | None = None) -> np.ndarray:
    """Cluster label (nF,) of each forget row, 0-based in order of first appearance: average linkage on the cosine
    distance 1 - c, cut where clusters would merge above ``max_distance`` (0 = every row alone, 2 = one cluster)
    when it is given, else into at most ``n_clusters`` clusters (0: ceil(sqrt(nF)))."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if max_distance is not None and not 0.0 <= max_distance <= 2.0:
        raise RapidunError(f"coverage max_distance must be in [0, 2] (a cosine distance), got {max_distance}")
    if n_clusters < 0:
        raise RapidunError(f"coverage n_clusters must be >= 0 (0 = ceil(sqrt(rows))), got {n_clusters}")
    n = ff.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    dist = 1.0 - ff_cosine(ff)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    if max_distance is not None:
        raw = fcluster(tree, t=max_distance, criterion="distance")
    else:
        raw = fcluster(tree, t=n_clusters or int(np.ceil(np.sqrt(n))), criterion="maxclust")
    first: dict[int, int] = {}
    return np.asarray([first.setdefault(int(c), len(first)) for c in raw], dtype=np.int64)


def cluster_mean_one(weights: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weights (n,) divided by their cluster's mean weight, so every cluster's mean weight is 1."""
    w = np.asarray(weights, dtype=np.float64)
    out = np.empty_like(w)
    for c in np.unique(labels):
        members = labels == c
        mean = w[members].mean()
        out[members] = w[members] / mean if mean > 0 else 1.0
    return out
