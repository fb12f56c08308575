"""``self_only``: the RapidUn ablation with beta = delta = 0 (each group weighted by its own influence only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapidun.unlearning.influence_weights import influence_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.weighting import WeightParams


@dataclass(frozen=True)
class SelfOnlyParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings (fields of rapidun.influence.stage.InfluenceConfig) when influence is computed here
    influence: dict[str, Any] = field(default_factory=dict)


def self_only_weights(ctx: MethodContext, params: SelfOnlyParams) -> MethodWeights:
    return influence_weights(ctx, params.weights, "self_only", params.influence)


METHOD = GradientMethod(
    params_cls=SelfOnlyParams,
    weights=self_only_weights,
    terms=default_terms,
    uses_influence=True,
    weighting="self_only",
    description="RapidUn with beta = delta = 0 (self-influence only)",
)
