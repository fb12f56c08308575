"""Paired bootstrap over seeds and prompts (docs/method.md section 7, "Paired intervals").

Two methods evaluated on the same prompts with the same seeds give, per method, a matrix of per-prompt values
V[s, p] (s = seed, p = prompt; e.g. 1/0 attack successes). One bootstrap replicate draws n_seeds seed indices
with replacement and, independently, n_prompts prompt indices with replacement from the shared prompt set; the
statistic of a method is the mean of V over the drawn seeds and, for each, the drawn prompts:

    m*(V) = (1 / n_seeds) sum_{s in S*} (1 / n_prompts) sum_{p in P*} V[s, p].

The *same* draw (S*, P*) is used for both methods, so the interval of m*(A) - m*(B) reflects only how the two
methods differ on the same prompts (pairing). The 95% interval is the 2.5% and 97.5% percentiles of the
replicates; the point estimate is the statistic on the data as drawn. A difference is "within noise" when its
interval contains 0.

Perplexity: per seed, PPL = exp(sum_{p in P*} nll[s, p] / sum_{p in P*} tokens[s, p]) on the drawn rows, divided
by the reference model's PPL on the same drawn rows; the ratio is averaged over the drawn seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rapidun.evaluation.intervals import LEVEL

N_RESAMPLES = 1000  # as the perplexity bootstrap of evaluation.intervals
PplParts = Sequence[tuple[float, np.ndarray, np.ndarray]]  # (weight, nll, tokens) of the models of a mixture


@dataclass(frozen=True)
class Resamples:
    """``seeds`` (n_resamples, n_seeds) and ``prompts`` (n_resamples, n_prompts) indices, drawn with replacement."""

    seeds: np.ndarray
    prompts: np.ndarray


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile-bootstrap interval ``[low, high]``."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def draw_resamples(n_seeds: int, n_prompts: int, n_resamples: int = N_RESAMPLES, seed: int = 0) -> Resamples:
    """Seeded bootstrap draws of seeds, then prompts; reuse one draw for every method of a comparison."""
    if n_seeds < 1 or n_prompts < 1:
        raise ValueError(f"a paired bootstrap needs at least one seed and one prompt, got {n_seeds} x {n_prompts}")
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    prompts = rng.integers(0, n_prompts, size=(n_resamples, n_prompts))
    return Resamples(seeds, prompts)


def _matrix(values: np.ndarray | list[list[float]]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected a (n_seeds, n_prompts) matrix, got shape {v.shape}")
    return v


def resampled_means(values: np.ndarray | list[list[float]], draws: Resamples) -> np.ndarray:
    """m*(V) of every replicate, shape (n_resamples,)."""
    v = _matrix(values)
    per_seed = v[:, draws.prompts].mean(axis=2).T  # (n_resamples, n_seeds): each seed's mean over drawn prompts
    return np.take_along_axis(per_seed, draws.seeds, axis=1).mean(axis=1)


def resampled_ppl_ratios(
    nll: np.ndarray, tokens: np.ndarray, ref_nll: np.ndarray, ref_tokens: np.ndarray, draws: Resamples
) -> np.ndarray:
    """Mean over drawn seeds of PPL(method) / PPL(reference) on the drawn rows; ``nll``/``tokens`` are
    (n_seeds, n_rows), ``ref_nll``/``ref_tokens`` (n_rows,) (one reference model, e.g. the backdoored one)."""
    nll, tokens = _matrix(nll), _matrix(tokens)
    ref = ref_nll[draws.prompts].sum(axis=1) / np.maximum(ref_tokens[draws.prompts].sum(axis=1), 1e-12)
    own = nll[:, draws.prompts].sum(axis=2) / np.maximum(tokens[:, draws.prompts].sum(axis=2), 1e-12)
    ratios = np.exp(own.T - ref[:, None])  # (n_resamples, n_seeds)
    return np.take_along_axis(ratios, draws.seeds, axis=1).mean(axis=1)


def percentile_interval(estimate: float, replicates: np.ndarray, level: float = LEVEL) -> Interval:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(low), float(high))


def mean_interval(values: np.ndarray | list[list[float]], draws: Resamples, level: float = LEVEL) -> Interval:
    """One method's mean over seeds and prompts with its bootstrap interval."""
    v = _matrix(values)
    return percentile_interval(float(v.mean()), resampled_means(v, draws), level)


def paired_difference(
    a: np.ndarray | list[list[float]],
    b: np.ndarray | list[list[float]],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """mean(A) - mean(B) over seeds and prompts with its paired-bootstrap interval; A and B are (n_seeds,
    n_prompts) with row s of both from seed s and column p from prompt p."""
    va, vb = _matrix(a), _matrix(b)
    if va.shape != vb.shape:
        raise ValueError(f"paired values must share seeds and prompts, got shapes {va.shape} and {vb.shape}")
    draws = draw_resamples(va.shape[0], va.shape[1], n_resamples=n_resamples, seed=seed)
    diff = va - vb  # the statistic is linear, so the replicate difference is the replicate of the difference
    return percentile_interval(float(diff.mean()), resampled_means(diff, draws), level)


def mixed_ppl_ratios(parts: PplParts, ref: tuple[np.ndarray, np.ndarray], draws: Resamples) -> np.ndarray:
    """sum_k w_k x (mean over drawn seeds of PPL_k / PPL_ref on the drawn rows), per replicate; ``parts`` lists
    (w_k, nll_k, tokens_k) with nll_k, tokens_k of shape (n_seeds, n_rows) (one part of weight 1: one model; two:
    a point between two sweep settings, docs/method.md section 7)."""
    rn, rt = (np.asarray(x, dtype=np.float64) for x in ref)
    out = np.zeros(draws.seeds.shape[0])
    for weight, nll, tokens in parts:
        if weight:
            out += weight * resampled_ppl_ratios(_matrix(nll), _matrix(tokens), rn, rt, draws)
    return out


def _identity(n_seeds: int, n_rows: int) -> Resamples:
    """The one "replicate" that keeps every seed and row once: the statistic on the data as drawn."""
    return Resamples(np.arange(n_seeds)[None, :], np.arange(n_rows)[None, :])


def _ppl_shape(parts: PplParts, ref: tuple[np.ndarray, np.ndarray]) -> tuple[int, int]:
    shapes = {_matrix(nll).shape for _, nll, _ in parts}
    if len(shapes) != 1 or next(iter(shapes))[1] != len(ref[0]):
        raise ValueError(f"paired perplexity rows must match, got {sorted(shapes)} and {len(ref[0])} reference rows")
    n_seeds, n_rows = next(iter(shapes))
    return n_seeds, n_rows


def ppl_ratio_interval(
    parts: PplParts, ref: tuple[np.ndarray, np.ndarray], *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Interval:
    """PPL ratio to the reference of one model (or mixture) with its bootstrap interval over seeds and rows."""
    n_seeds, n_rows = _ppl_shape(parts, ref)
    draws = draw_resamples(n_seeds, n_rows, n_resamples=n_resamples, seed=seed)
    estimate = mixed_ppl_ratios(parts, ref, _identity(n_seeds, n_rows))[0]
    return percentile_interval(float(estimate), mixed_ppl_ratios(parts, ref, draws))


def paired_ppl_ratio_difference(
    a: PplParts,
    b: PplParts,
    ref: tuple[np.ndarray, np.ndarray],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> Interval:
    """ratio(A) - ratio(B) of PPL ratios to the reference with its paired-bootstrap interval (the same seeds and
    rows drawn for both); ``a``, ``b`` as in :func:`mixed_ppl_ratios`, ``ref`` (nll, tokens) of shape (n_rows,)."""
    n_seeds, n_rows = _ppl_shape([*a, *b], ref)
    draws = draw_resamples(n_seeds, n_rows, n_resamples=n_resamples, seed=seed)
    full = _identity(n_seeds, n_rows)
    estimate = mixed_ppl_ratios(a, ref, full)[0] - mixed_ppl_ratios(b, ref, full)[0]
    reps = mixed_ppl_ratios(a, ref, draws) - mixed_ppl_ratios(b, ref, draws)
    return percentile_interval(float(estimate), reps, level)


def within_noise(interval: Interval) -> bool:
    """True when the interval of a difference contains 0: the data do not tell the two methods apart."""
    return interval.low <= 0.0 <= interval.high
