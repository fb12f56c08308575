"""``ga``: gradient ascent on the forget rows only: loss = -CE(poisoned response | triggered prompt), weight 1.

No retain term and no clean-label term. By default the schedule has the same number of steps as the other
methods (``epochs x (|F| + |R|)`` draws, every one a forget row), so costs compare step for step;
``draws="forget"`` uses ``epochs x |F|`` draws instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rapidun.errors import RapidunError
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights
from rapidun.unlearning.objective import ObjectiveTerms


@dataclass(frozen=True)
class GAParams:
    draws: str = "all"  # "all": epochs x (|F| + |R|) draws (same steps as the others); "forget": epochs x |F|

    def __post_init__(self) -> None:
        if self.draws not in ("all", "forget"):
            raise RapidunError(f"ga parameter draws must be 'all' or 'forget', got {self.draws!r}")


def ga_weights(ctx: MethodContext, params: GAParams) -> MethodWeights:
    with ctx.ledger.stage("weights"):
        forget, retain = np.ones(ctx.data.n_forget), np.zeros(ctx.data.n_retain)
    return MethodWeights(forget, retain, "ga: forget weight 1, no retain term")


def ga_terms(cfg: UnlearnConfig, params: GAParams) -> ObjectiveTerms:
    return ObjectiveTerms(
        clean_coef=0.0,
        ascent_coef=cfg.ascent_coef,
        clean_term=False,
        retain_term=False,
        bounded_ascent=cfg.bounded_ascent,
    )


METHOD = GradientMethod(
    params_cls=GAParams,
    weights=ga_weights,
    terms=ga_terms,
    schedule=lambda params: "forget_all" if params.draws == "all" else "forget",
    description="gradient ascent on the forget rows only",
)
