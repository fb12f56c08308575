"""From the four directional influence matrices to forget and retain weights (docs/method.md sections 2-3).

Matrix convention (rows = queries, columns = training samples being scored), with nF forget and nR retain rows:

- ``FF`` ``(nF, nF)``: forget queries x forget train      - ``FR`` ``(nR, nF)``: retain queries x forget train
- ``RF`` ``(nF, nR)``: forget queries x retain train      - ``RR`` ``(nR, nR)``: retain queries x retain train

``S_f = alpha agg(FF) - beta agg(FR)`` scores the forget rows, ``S_r = gamma agg(RR) - delta agg(RF)`` the retain
rows; each is mapped to mean-one weights by :func:`~rapidun.weighting.mapping.robust_weights`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from rapidun.errors import RapidunError
from rapidun.settings import setting
from rapidun.weighting.aggregate import AGGREGATIONS, FAITHFUL_TOP_K, aggregate
from rapidun.weighting.mapping import W_MAX, W_MIN, bounded_weights, check_mapping_params, fuse, robust_z

# Named weightings (the ablations of docs/method.md section 5): overrides applied on top of WeightParams.
# "uniform" sets every coefficient to 0, so both fused scores are constant, z = 0 and every weight is exactly 1.
WEIGHTINGS: dict[str, dict[str, float]] = {
    "rapidun": {},
    "uniform": {"alpha": 0.0, "beta": 0.0, "gamma": 0.0, "delta": 0.0},
    "self_only": {"beta": 0.0, "delta": 0.0},
}


@dataclass(frozen=True)
class WeightParams:
    """Settings of the weighting stage; defaults are rapidun's (median aggregation without truncation)."""

    aggregation: str = setting("median", "median, or topk_median (the released code's)", choices=tuple(AGGREGATIONS))
    top_k: int = setting(FAITHFUL_TOP_K, "scores kept per query by topk_median")
    alpha: float = setting(1.0, "weight of FF in S_f")
    beta: float = setting(1.0, "weight of FR in S_f")
    gamma: float = setting(1.0, "weight of RR in S_r")
    delta: float = setting(1.0, "weight of RF in S_r")
    tau_f: float = setting(0.7, "temperature of the forget mapping")
    tau_r: float = setting(1.2, "temperature of the retain mapping")
    w_min: float = setting(W_MIN, "lower clip of a weight before mean normalisation")
    w_max: float = setting(W_MAX, "upper clip of a weight before mean normalisation")
    weighting: str = setting("rapidun", "named weighting (fixes some coefficients)", choices=tuple(WEIGHTINGS))

    @classmethod
    def faithful(cls, **overrides: Any) -> WeightParams:
        """The released code's settings: top-40 truncation per query, then the median over queries."""
        return cls(**{"aggregation": "topk_median", "top_k": FAITHFUL_TOP_K, **overrides})

    def with_weighting(self, name: str) -> WeightParams:
        """These params with the named weighting's overrides applied (see :data:`WEIGHTINGS`)."""
        if name not in WEIGHTINGS:
            raise RapidunError(f"unknown weighting '{name}'; choose one of {', '.join(WEIGHTINGS)}")
        overrides: dict[str, Any] = dict(WEIGHTINGS[name])
        return replace(self, weighting=name, **overrides)

    def validate(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise RapidunError(f"unknown --aggregation '{self.aggregation}'; choose one of {', '.join(AGGREGATIONS)}")
        if self.weighting not in WEIGHTINGS:
            raise RapidunError(f"unknown --weighting '{self.weighting}'; choose one of {', '.join(WEIGHTINGS)}")
        if self.top_k < 1:
            raise RapidunError(f"--top-k must be at least 1, got {self.top_k}")
        for name in ("alpha", "beta", "gamma", "delta"):
            if not np.isfinite(getattr(self, name)):
                raise RapidunError(f"--{name} must be a finite number, got {getattr(self, name)}")
        check_mapping_params(self.tau_f, self.w_min, self.w_max)
        check_mapping_params(self.tau_r, self.w_min, self.w_max)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GroupWeights:
    """One group's result; every array has shape ``(n,)`` (n = rows in the group)."""

    weights: np.ndarray  # final weights, mean one
    bounded: np.ndarray  # weights before mean normalisation, in [w_min, w_max]
    scores: np.ndarray  # fused score S
    z: np.ndarray  # robust z-score of S


@dataclass(frozen=True)
class WeightResult:
    forget: GroupWeights  # n = nF
    retain: GroupWeights  # n = nR


def check_matrices(ff: np.ndarray, fr: np.ndarray, rf: np.ndarray, rr: np.ndarray) -> tuple[int, int]:
    """Check the four shapes agree; return ``(nF, nR)``."""
    if ff.ndim != 2 or ff.shape[0] != ff.shape[1]:
        raise RapidunError(f"FF must be square (nF, nF), got shape {ff.shape}")
    if rr.ndim != 2 or rr.shape[0] != rr.shape[1]:
        raise RapidunError(f"RR must be square (nR, nR), got shape {rr.shape}")
    n_f, n_r = ff.shape[0], rr.shape[0]
    if fr.shape != (n_r, n_f):
        raise RapidunError(f"FR must be (nR, nF) = {(n_r, n_f)} (retain queries x forget train), got {fr.shape}")
    if rf.shape != (n_f, n_r):
        raise RapidunError(f"RF must be (nF, nR) = {(n_f, n_r)} (forget queries x retain train), got {rf.shape}")
    return n_f, n_r


def _group(scores: np.ndarray, tau: float, params: WeightParams) -> GroupWeights:
    z = robust_z(scores)
    bounded = bounded_weights(z, tau, params.w_min, params.w_max)
    return GroupWeights(weights=bounded / bounded.mean(), bounded=bounded, scores=scores, z=z)


def compute_weights(
    ff: np.ndarray, fr: np.ndarray, rf: np.ndarray, rr: np.ndarray, params: WeightParams | None = None
) -> WeightResult:
    """Forget weights ``(nF,)`` and retain weights ``(nR,)`` from FF, FR, RF, RR (shapes in the module doc)."""
    params = params or WeightParams()
    params.validate()
    mats = [np.asarray(m, dtype=np.float64) for m in (ff, fr, rf, rr)]
    check_matrices(*mats)
    ff_a, fr_a, rf_a, rr_a = (aggregate(m, params.aggregation, params.top_k) for m in mats)
    s_f = fuse(ff_a, fr_a, params.alpha, params.beta)
    s_r = fuse(rr_a, rf_a, params.gamma, params.delta)
    return WeightResult(forget=_group(s_f, params.tau_f, params), retain=_group(s_r, params.tau_r, params))
