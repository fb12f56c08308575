"""``uniform``: the RapidUn ablation with every weight 1, also registered as ``graddiff`` (gradient difference).

Papers use both names for the same objective and numbers; the registry keeps one method and an alias.
``--weights DIR`` multiplies each row's loss by its weight instead (:mod:`rapidun.unlearning.plugin_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.unlearning.kinds import GradientMethod, default_terms
from rapidun.unlearning.plugin_weights import given_or_uniform_weights


@dataclass(frozen=True)
class UniformParams:
    pass


METHOD = GradientMethod(
    params_cls=UniformParams,
    weights=given_or_uniform_weights,
    terms=default_terms,
    takes_weights=True,
    description="RapidUn objective, all weights 1 (uniform ablation)",
)
