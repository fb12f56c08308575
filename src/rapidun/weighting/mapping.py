"""Fusion of directional scores and the robust mapping from scores to weights (docs/method.md section 3).

Paper equations, per group (forget F or retain R):

- Forget score  ``S_f(i) = alpha * FF(i) - beta * FR(i)``; retain score ``S_r(j) = gamma * RR(j) - delta * RF(j)``,
  where each term is an aggregated ``(n_train,)`` score vector.
- ``z = (S - median(S)) / max(1.4826 * MAD(S), 1e-3)``; ``z = 0`` when all scores are equal.
- ``w = exp(clip(z / tau, ln w_min, ln w_max))`` (so ``w_min <= w <= w_max``), then ``w = w / mean(w)``
  (mean one; this may step slightly outside ``[w_min, w_max]``).
"""

from __future__ import annotations

import numpy as np

from rapidun.errors import RapidunError

MAD_SCALE = 1.4826  # makes the MAD a consistent estimator of the standard deviation for normal data
MAD_FLOOR = 1e-3  # released code's floor on the scale, so near-constant scores do not explode
W_MIN, W_MAX = 0.2, 3.0  # default clip of a weight before mean normalisation (WeightParams.w_min / w_max)


def fuse(
    self_score: np.ndarray, cross_score: np.ndarray, self_coef: float = 1.0, cross_coef: float = 1.0
) -> np.ndarray:
    """``self_coef * self_score - cross_coef * cross_score`` for ``(n,)`` vectors (alpha FF - beta FR etc.)."""
    a = np.asarray(self_score, dtype=np.float64)
    b = np.asarray(cross_score, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise RapidunError(f"cannot fuse score vectors of shapes {a.shape} and {b.shape}; both must be (n,)")
    return self_coef * a - cross_coef * b


def robust_z(scores: np.ndarray) -> np.ndarray:
    """``(n,) -> (n,)``: ``(S - median) / max(1.4826 MAD, 1e-3)``, or zeros when all scores are equal."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise RapidunError(f"scores must be a non-empty (n,) vector, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise RapidunError("fused scores contain NaN or infinite values; check the influence scores")
    if np.all(s == s[0]):
        return np.zeros_like(s)
    med = np.median(s)
    mad = np.median(np.abs(s - med))
    return (s - med) / max(MAD_SCALE * mad, MAD_FLOOR)


def bounded_weights(z: np.ndarray, tau: float, w_min: float, w_max: float) -> np.ndarray:
    """``exp(clip(z / tau, ln w_min, ln w_max))``: weights in ``[w_min, w_max]`` before mean normalisation."""
    check_mapping_params(tau, w_min, w_max)
    return np.exp(np.clip(np.asarray(z, dtype=np.float64) / tau, np.log(w_min), np.log(w_max)))


def robust_weights(scores: np.ndarray, tau: float, w_min: float = W_MIN, w_max: float = W_MAX) -> np.ndarray:
    """Map ``(n,)`` scores to ``(n,)`` positive weights with mean one (higher score -> larger weight)."""
    w = bounded_weights(robust_z(scores), tau, w_min, w_max)
    return w / w.mean()


def check_mapping_params(tau: float, w_min: float, w_max: float) -> None:
    if not (np.isfinite(tau) and tau > 0):
        raise RapidunError(f"tau must be a positive number, got {tau}; fix --tau-f/--tau-r")
    if not (np.isfinite(w_min) and np.isfinite(w_max) and 0 < w_min <= 1 <= w_max):
        raise RapidunError(f"need 0 < w_min <= 1 <= w_max, got w_min={w_min}, w_max={w_max}; fix --w-min/--w-max")
