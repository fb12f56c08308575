"""The rankers of ``rapidun trace --ranker``: one file each under :mod:`rapidun.tracing.rankers`, one entry each in
:data:`RANKERS` (docs/method.md section 2).

A ranker is a function ``score(inputs: RankInputs) -> np.ndarray`` of shape (n_reports, n_train): entry [q, i] says
how much training row i is behind report q (higher = more responsible). In a multi-process run a ranker may return
an empty (0, 0) array on the processes other than the main one, which only wait for the main one's outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.costs import CostLedger
from rapidun.data.rows import Row
from rapidun.tracing.config import TraceConfig
from rapidun.tracing.rankers import bm25, embedding, influence, random


@dataclass
class RankInputs:
    """What a ranker may use: the model, the rows (training rows, completed reports), and where to cache."""

    model: Any
    tokenizer: Any
    train_rows: Sequence[Row]
    report_rows: Sequence[Row]
    cfg: TraceConfig
    out_dir: Path  # this trace's directory (report-side caches live under out_dir/cache)
    cache_dir: Path  # the training-row caches, shareable between traces of the same model and rows
    ledger: CostLedger
    overwrite: bool = False
    progress: bool = True
    accelerator: Any = None


RANKERS: dict[str, Callable[[RankInputs], np.ndarray]] = {
    "influence": influence.score,
    "bm25": bm25.score,
    "embedding": embedding.score,
    "random": random.score,
}
