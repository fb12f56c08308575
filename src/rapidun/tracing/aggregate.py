"""From (report, row) scores to one score per training row, and from that to forget / retain proposals
(docs/method.md section 2).

Per-report normalisation: each report's scores over the N training rows are z-scored,
``z[q, i] = (S[q, i] - mean_i S[q, :]) / std_i S[q, :]``. Raw influence scores <g(q), g(i)> scale with the report's
gradient norm, so without it the report with the largest loss decides the mean (and the max) alone.

Aggregation over the Q reports, ``a[i] = agg_q z[q, i]``, default ``max``. Responsible rows are usually behind
*some* of the reports (one trigger family among several, one behaviour among several): ``max`` keeps a row that any
report points at strongly, ``mean`` divides a minority family's signal by the number of reports, and ``median``
drops every family reported by fewer than half of the reports. Normalising first is what makes ``max`` fair (a raw
max follows the loudest report). Measured with benchmarks/trace_aggregation.py (nano model; see docs/tracing.md):
on the model trained on the pack, max gives the best influence AUC for all 6 report sets (0.02 to 0.08 above mean;
two families: max 0.93, mean 0.89, median 0.74); on the untrained model mean is ahead by up to 0.08.

Data-driven forget size (no ``k``): the rows whose aggregated score is a robust outlier,
``(a[i] - median(a)) / (1.4826 MAD(a)) > cutoff_z`` (3.5, Iglewicz and Hoaglin's rule). Responsible rows are a small
minority that sits far above the bulk of unrelated rows, and median / MAD describe that bulk without being pulled
by the outliers themselves; the count is capped at ``max_forget_fraction`` of the rows and is at least one.

The forget proposal is the top of the ranking. The retain proposal (``retain_pick``, unset = ``lowest``):
``lowest``, the bottom of the ranking, lowest first; or ``random_low_half``, a seeded random sample of the rows
below the median score (lowest first): rows no report points at, but typical of the training data rather than its
most atypical tail. On `small` the two unlearn equally well (BENCHMARKS section 19.3), both behind the pack's own
retain rows, so the default stays ``lowest``.
"""

from __future__ import annotations

import numpy as np

from rapidun.errors import RapidunError
from rapidun.weighting.mapping import MAD_SCALE

MAD_TO_SIGMA = MAD_SCALE  # MAD of a normal distribution times this is its standard deviation


def normalise_reports(scores: np.ndarray) -> np.ndarray:
    """(Q, N) scores -> (Q, N) per-report z-scores (a report whose scores are all equal gives zeros)."""
    s = np.asarray(scores, dtype=np.float64)
    std = s.std(axis=1, keepdims=True)
    return (s - s.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)


def aggregate_scores(scores: np.ndarray, how: str = "max", normalize: bool = True) -> np.ndarray:
    """(Q, N) (report, row) scores -> (N,) one score per training row."""
    s = normalise_reports(scores) if normalize else np.asarray(scores, dtype=np.float64)
    if how == "mean":
        return s.mean(axis=0)
    if how == "median":
        return np.median(s, axis=0)
    if how == "max":
        return s.max(axis=0)
    raise RapidunError(f"unknown --aggregate '{how}'; choose mean, median or max")


def ranking_order(aggregated: np.ndarray) -> np.ndarray:
    """Row indices, highest score first; equal scores keep the lower index first (stable)."""
    return np.argsort(-np.asarray(aggregated), kind="stable")


def outlier_count(aggregated: np.ndarray, cutoff_z: float, max_fraction: float) -> int:
    """How many rows lie more than ``cutoff_z`` robust standard deviations above the median (at least 1)."""
    a = np.asarray(aggregated, dtype=np.float64)
    centre = np.median(a)
    spread = MAD_TO_SIGMA * np.median(np.abs(a - centre))
    if spread <= 0:  # more than half the rows tie: fall back on the plain standard deviation
        spread = a.std()
    n = int((a - centre > cutoff_z * spread).sum()) if spread > 0 else 0
    return max(1, min(n, int(max_fraction * len(a))))


RETAIN_PICKS = ("lowest", "random_low_half")


def random_low_half(aggregated: np.ndarray, n: int, exclude: np.ndarray, seed: int) -> np.ndarray:
    """``n`` rows (fewer when the low half is smaller) drawn at random, seeded, from the rows ranked in the lower
    half and not in ``exclude``; returned lowest score first."""
    order = ranking_order(aggregated)
    low = order[len(order) - len(order) // 2 :]
    low = low[~np.isin(low, exclude)]
    picked = np.random.default_rng(seed).choice(low, size=min(n, len(low)), replace=False)
    return picked[np.argsort(np.asarray(aggregated)[picked], kind="stable")]


def split_forget_retain(
    aggregated: np.ndarray,
    k: int | None,
    cutoff_z: float,
    max_fraction: float,
    retain_ratio: int,
    *,
    retain_pick: str | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Indices of the proposed forget rows and retain rows (``retain_ratio`` times as many, or every other row when
    fewer remain), and the rule used; ``seed`` draws ``retain_pick='random_low_half'``."""
    n = len(aggregated)
    if k is not None and k > n:
        raise RapidunError(f"--k {k} is larger than the training set ({n} rows); pass --k {n} or less")
    order = ranking_order(aggregated)
    if k is None:
        n_forget = outlier_count(aggregated, cutoff_z, max_fraction)
        rule = f"robust z > {cutoff_z} (median / MAD), at most {max_fraction:.0%} of the rows"
    else:
        n_forget, rule = k, f"top-{k}"
    forget = order[:n_forget]
    n_retain = min(retain_ratio * n_forget, n - n_forget)
    if retain_pick == "random_low_half":  # values were checked with the other settings (TraceConfig.check)
        retain = random_low_half(aggregated, n_retain, forget, seed)
        rule += f"; retain: {len(retain)} random rows of the lower half"
    else:
        retain = order[n - n_retain :][::-1] if n_retain else order[:0]  # lowest score first
    return forget, retain, rule
