"""The ``random`` ranker: seeded uniform scores, the floor any attribution must beat (docs/method.md section 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rapidun.tracing.ranker_registry import RankInputs


def score(inputs: RankInputs) -> np.ndarray:
    """(n_reports, n_train) independent uniform [0, 1) draws from ``cfg.seed``: the same seed, the same ranking."""
    rng = np.random.default_rng(inputs.cfg.seed)
    return rng.random((len(inputs.report_rows), len(inputs.train_rows)))
