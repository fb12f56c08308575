"""95% intervals for the reported rates and for perplexity.

- Rates (ASR, false-trigger rate): the Wilson score interval, which stays inside [0, 1] and is sensible at 0/n and
  n/n, unlike the normal approximation.
- Perplexity: a seeded percentile bootstrap over rows of exp(sum nll / sum tokens), i.e. rows (not tokens) are the
  resampled unit, because tokens of one row are not independent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile
LEVEL = 0.95  # coverage of every reported interval


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion ``successes / n``; None when ``n == 0``.

    centre = (p + z^2/2n) / (1 + z^2/n), half-width = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie in [0, n={n}]")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_ratio_interval(
    numerators: Sequence[float],
    denominators: Sequence[float],
    *,
    transform: str = "exp",
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``f(sum num / sum den)`` resampling rows with replacement (seeded).

    ``transform="exp"`` gives a perplexity interval from per-row summed NLL and token counts. None for no rows.
    """
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    if num.size == 0 or num.shape != den.shape:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(n_resamples, num.size))
    ratios = num[idx].sum(axis=1) / np.maximum(den[idx].sum(axis=1), 1e-12)
    if transform == "exp":
        ratios = np.exp(ratios)
    elif transform != "identity":
        raise ValueError(f"unknown transform {transform!r}")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(ratios, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))
