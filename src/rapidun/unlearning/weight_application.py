"""How per-row weights reach the update (docs/method.md section 5, influence-guided variants).

Three applications of the same weights w_f (nF,), w_r (nR,):
- ``loss`` (RapidUn, the default): each row's loss is multiplied by its weight (at batch 1 with AdamW and gradient
  clipping this acts mostly as a per-step learning-rate factor);
- ``sampled``: rows are drawn with probability proportional to their weight (forget rows among forget draws, retain
  rows among retain draws) and every loss weight is 1. Equal weights draw exactly the unweighted schedule;
- ``batch_normalised``: the loss keeps the weights, divided within each optimiser batch by the mean weight of that
  batch's forget draws (forget rows) or retain draws (retain rows): sum_{k in B} (w_k / mean_{B,group(k)} w) l_k.
  A batch's total forget (retain) weight is then its number of forget (retain) draws, so weights only shift
  emphasis between rows of one batch; it needs batches of several rows (``min_batch``, 8 by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rapidun.errors import RapidunError

APPLICATIONS = ("loss", "sampled", "batch_normalised")


@dataclass(frozen=True)
class Application:
    """How a method applies its weights: ``how`` (one of APPLICATIONS) and the smallest optimiser batch it needs
    (the schedule uses max(--batch-size, min_batch))."""

    how: str = "loss"
    min_batch: int = 1

    def __post_init__(self) -> None:
        if self.how not in APPLICATIONS:
            raise RapidunError(f"unknown weight application '{self.how}'; choose one of {', '.join(APPLICATIONS)}")
        if self.min_batch < 1:
            raise RapidunError(f"min_batch must be >= 1, got {self.min_batch}")


def draw_probabilities(weights: np.ndarray) -> list[float] | None:
    """Draw probabilities (n,) proportional to ``weights``; None when every weight is equal (the unweighted,
    uniform draw, which keeps the unweighted method's schedule exactly)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0 or np.all(w == w[0]):
        return None
    if w.sum() <= 0:
        raise RapidunError("every weight of a group is zero; rows cannot be drawn in proportion to them")
    return (w / w.sum()).tolist()


def batch_scales(ids: Sequence[int], n_forget: int, forget: np.ndarray, retain: np.ndarray) -> tuple[float, float]:
    """(forget scale, retain scale) of one batch: 1 / the mean weight of its forget (retain) draws; 0 for a group
    whose draws all weigh 0 (they then contribute nothing, as unnormalised zero weights do)."""

    def scale(values: list[float]) -> float:
        mean = float(np.mean(values)) if values else 0.0
        return 1.0 / mean if mean > 0 else 0.0

    f = [float(forget[k]) for k in ids if k < n_forget]
    r = [float(retain[k - n_forget]) for k in ids if k >= n_forget]
    return scale(f), scale(r)
