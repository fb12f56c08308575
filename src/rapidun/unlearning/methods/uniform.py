"""``uniform``: the RapidUn ablation with every weight 1, also registered as ``graddiff`` (gradient difference).

Papers use both names for the same objective and numbers; the registry keeps one method and an alias.
``--weights DIR`` multiplies each row's loss by its weight instead (:mod:`rapidun.unlearning.plugin_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.unlearning.influence_weights import uniform_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.plugin_weights import plugin_weights


@dataclass(frozen=True)
class UniformParams:
    pass


def uniform_method_weights(ctx: MethodContext, params: UniformParams) -> MethodWeights:
    return plugin_weights(ctx, lambda: uniform_weights(ctx))


METHOD = GradientMethod(
    params_cls=UniformParams,
    weights=uniform_method_weights,
    terms=default_terms,
    takes_weights=True,
    description="RapidUn objective, all weights 1 (uniform ablation)",
)
