"""ASR at a matched clean-perplexity budget, read along a method's strength sweep (docs/method.md section 7,
"Matched-perplexity frontier").

A method's sweep is a list of positions 0..K: position 0 is the model before unlearning (strength 0: PPL ratio 1,
the backdoored model's ASR), positions 1..K its settings from weakest to strongest. Joining consecutive positions
by straight segments gives a path in the (PPL ratio r, ASR a) plane, each point of it a mixture
(1 - t) P_k + t P_{k+1}, 0 <= t <= 1.

**Operating point at budget b** (chosen on validation, seed means): among the points of the path with r <= b, the
one with the lowest validation ASR. On a segment r and a are both linear in t, so the minimum lies at a vertex with
r_k <= b or where a segment crosses r = b (t = (b - r_k) / (r_{k+1} - r_k)); every such candidate is compared,
ties going to the lower ratio, then the weaker setting. The feasible set only grows with b, so the ASR at the
budget never increases with it (monotone). When even the strongest setting stays below b the point may improve
with more strength: ``budget_reached`` is then False.

**Reported value** (test): the chosen (k, t) is applied to test outcomes, V = (1 - t) V_k + t V_{k+1} per seed
and prompt, so the test ASR at the budget is the same mixture of the two neighbouring settings' test ASRs, and
its interval is a bootstrap of V (:mod:`rapidun.evaluation.paired`). Test numbers never move the operating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    """The point (1 - t) P_k + t P_{k+1} of a sweep path (``t`` = 0: the vertex k), its validation ratio and ASR."""

    segment: int
    t: float
    ratio: float
    asr: float
    budget_reached: bool

    def weights(self, n_positions: int) -> np.ndarray:
        """Mixture weight of every sweep position (two non-zero at most), shape (n_positions,)."""
        w = np.zeros(n_positions)
        w[self.segment] = 1.0 - self.t
        if self.t > 0.0:
            w[self.segment + 1] = self.t
        return w


def operating_point(ratios: Sequence[float], asrs: Sequence[float], budget: float) -> OperatingPoint:
    """The lowest-ASR point of the path through (``ratios[k]``, ``asrs[k]``) within ``ratios <= budget``.

    ``ratios[0]`` must be within the budget (the unmodified model, ratio 1), so a point always exists."""
    r, a = np.asarray(ratios, dtype=np.float64), np.asarray(asrs, dtype=np.float64)
    if r.shape != a.shape or r.size == 0:
        raise ValueError(f"ratios and ASRs must be two non-empty lists of one length, got {r.size} and {a.size}")
    if not r[0] <= budget:
        raise ValueError(f"the sweep's first position (ratio {r[0]:.4g}) exceeds the budget {budget}")
    candidates: list[tuple[float, float, float, int]] = []  # (asr, ratio, position along the path, segment)
    for k in range(r.size):
        if r[k] <= budget:
            candidates.append((float(a[k]), float(r[k]), float(k), k))
        if k + 1 < r.size and (r[k] - budget) * (r[k + 1] - budget) < 0:
            t = (budget - r[k]) / (r[k + 1] - r[k])
            candidates.append((float(a[k] + t * (a[k + 1] - a[k])), float(budget), float(k + t), k))
    asr, ratio, where, k = min(candidates)
    return OperatingPoint(k, where - k, ratio, asr, bool((r > budget).any()))


def mix(values: np.ndarray, point: OperatingPoint) -> np.ndarray:
    """sum_k w_k values[k] over the sweep axis (axis 0) with the point's mixture weights."""
    v = np.asarray(values, dtype=np.float64)
    return np.tensordot(point.weights(v.shape[0]), v, axes=1)
