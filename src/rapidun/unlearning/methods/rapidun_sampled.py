"""``rapidun_sampled``: RapidUn's influence weights applied by drawing rows, not by scaling losses.

Forget rows are drawn (among the forget draws) with probability w_f(i) / sum w_f, retain rows likewise with w_r,
and every loss weight is 1 (docs/method.md section 5, :mod:`rapidun.unlearning.weight_application`). Equal weights
give exactly ``uniform``'s schedule and run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import influence_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.weight_application import Application
from rapidun.weighting import WeightParams


@dataclass(frozen=True)
class RapidunSampledParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings (fields of rapidun.influence.stage.InfluenceConfig) when influence is computed here
    influence: InfluenceConfig | None = None  # None: the defaults with the run's max_length and prompt style


def rapidun_sampled_weights(ctx: MethodContext, params: RapidunSampledParams) -> MethodWeights:
    return influence_weights(ctx, params.weights, "rapidun", params.influence)


METHOD = GradientMethod(
    params_cls=RapidunSampledParams,
    weights=rapidun_sampled_weights,
    terms=default_terms,
    application=lambda params: Application("sampled"),
    uses_influence=True,
    weighting="rapidun",
    description="RapidUn influence weights as draw probabilities, unweighted loss",
)
