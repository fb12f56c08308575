"""``graddiff``: gradient difference, the RapidUn objective with every weight 1 (docs/method.md section 5).

Identical to ``uniform``; both names are kept because papers use both. ``--weights DIR`` multiplies each row's
loss by its weight (:mod:`rapidun.unlearning.plugin_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.unlearning.influence_weights import uniform_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.plugin_weights import plugin_weights


@dataclass(frozen=True)
class GradDiffParams:
    pass


def graddiff_weights(ctx: MethodContext, params: GradDiffParams) -> MethodWeights:
    return plugin_weights(ctx, lambda: uniform_weights(ctx))


METHOD = GradientMethod(
    params_cls=GradDiffParams,
    weights=graddiff_weights,
    terms=default_terms,
    takes_weights=True,
    description="RapidUn objective, all weights 1 (gradient difference)",
)
