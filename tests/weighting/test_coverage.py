"""Coverage weights (docs/method.md section 5): clusters of a hand-made FF matrix, each cluster's mean weight 1."""

from __future__ import annotations

import numpy as np
import pytest

from rapidun.errors import RapidunError
from rapidun.weighting.coverage import cluster_mean_one, ff_clusters, ff_cosine

# Five forget rows: rows 0-3 share one template (gradients nearly parallel), row 4 is a rare kind of row,
# orthogonal to them. FF = G G^T of these gradients.
GRADS = np.array(
    [
        [1.0, 0.1, 0.0],
        [1.0, 0.0, 0.1],
        [2.0, 0.1, 0.1],
        [1.0, 0.05, 0.0],
        [0.0, 0.0, 1.0],
    ]
)
FF = GRADS @ GRADS.T


def test_cosine_of_a_gram_matrix_is_the_cosine_of_the_gradients() -> None:
    unit = GRADS / np.linalg.norm(GRADS, axis=1, keepdims=True)
    np.testing.assert_allclose(ff_cosine(FF), unit @ unit.T, atol=1e-12)


def test_clusters_separate_the_rare_row() -> None:
    assert ff_clusters(FF, max_distance=0.5).tolist() == [0, 0, 0, 0, 1]
    assert ff_clusters(FF, max_distance=0.0).tolist() == [0, 1, 2, 3, 4]  # no merging: every row alone
    assert ff_clusters(FF, max_distance=2.0).tolist() == [0, 0, 0, 0, 0]
    assert ff_clusters(FF, n_clusters=2).tolist() == [0, 0, 0, 0, 1]
    assert ff_clusters(FF).tolist() == ff_clusters(FF, n_clusters=3).tolist()  # ceil(sqrt(5)) = 3
    assert len(set(ff_clusters(FF).tolist())) == 3 and ff_clusters(FF)[4] not in ff_clusters(FF)[:4]
    with pytest.raises(RapidunError, match="max_distance"):
        ff_clusters(FF, max_distance=2.5)


def test_each_cluster_gets_mean_weight_one() -> None:
    # influence-style weights piled on the common template: the rare row is starved (0.2)
    weights = np.array([1.5, 1.0, 1.3, 1.0, 0.2])
    out = cluster_mean_one(weights, np.array([0, 0, 0, 0, 1]))
    # cluster 0's mean is 4.8 / 4 = 1.2; the rare row is alone in cluster 1
    np.testing.assert_allclose(out, [1.25, 1 / 1.2, 1.3 / 1.2, 1 / 1.2, 1.0])
    assert out.mean() == pytest.approx(1.0)
