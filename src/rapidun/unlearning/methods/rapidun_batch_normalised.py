"""``rapidun_batch_normalised``: RapidUn's influence weights normalised within optimiser batches of >= 8 rows.

Each row's loss is multiplied by w / (mean weight of its group's draws in the batch), so a batch's forget and
retain totals do not depend on the weights and the weights only shift emphasis between rows of one batch (docs/
method.md section 5, :mod:`rapidun.unlearning.weight_application`). The batch is max(--batch-size, ``min_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import influence_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.weight_application import Application
from rapidun.weighting import WeightParams


@dataclass(frozen=True)
class RapidunBatchNormalisedParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings (fields of rapidun.influence.stage.InfluenceConfig) when influence is computed here
    influence: InfluenceConfig | None = None  # None: the defaults with the run's max_length and prompt style
    min_batch: int = 8  # smallest optimiser batch (rows per step) the weights are normalised within

    def __post_init__(self) -> None:
        if self.min_batch < 2:
            raise RapidunError(f"rapidun_batch_normalised parameter min_batch must be >= 2, got {self.min_batch}")


def rapidun_batch_normalised_weights(ctx: MethodContext, params: RapidunBatchNormalisedParams) -> MethodWeights:
    return influence_weights(ctx, params.weights, "rapidun", params.influence)


METHOD = GradientMethod(
    params_cls=RapidunBatchNormalisedParams,
    weights=rapidun_batch_normalised_weights,
    terms=default_terms,
    application=lambda params: Application("batch_normalised", params.min_batch),
    uses_influence=True,
    weighting="rapidun",
    description="RapidUn influence weights normalised within batches of >= 8 rows",
)
