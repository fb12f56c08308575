"""``rapidun``: influence-weighted unlearning (RapidUn, arXiv 2512.04457; docs/method.md sections 2-4).

Forget weights w_f from S_f = alpha FF - beta FR and retain weights w_r from S_r = gamma RR - delta RF, mapped to
bounded mean-one weights, then the weighted objective of :mod:`rapidun.unlearning.objective`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import influence_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.weighting import WeightParams


@dataclass(frozen=True)
class RapidunParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings when influence is computed here; None: the defaults with the run's max_length and prompt
    influence: InfluenceConfig | None = None


def rapidun_weights(ctx: MethodContext, params: RapidunParams) -> MethodWeights:
    return influence_weights(ctx, params.weights, "rapidun", params.influence)


METHOD = GradientMethod(
    params_cls=RapidunParams,
    weights=rapidun_weights,
    terms=default_terms,
    uses_influence=True,
    weighting="rapidun",
    description="influence-weighted forget/retain objective (RapidUn)",
)
