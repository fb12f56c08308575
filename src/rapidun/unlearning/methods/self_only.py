"""``self_only``: the RapidUn ablation with beta = delta = 0 (each group weighted by its own influence only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import influence_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.weighting import WeightParams


@dataclass(frozen=True)
class SelfOnlyParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings when influence is computed here; None: the defaults with the run's max_length and prompt
    influence: InfluenceConfig | None = None


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
