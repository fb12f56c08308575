"""``throwaway``: a method that exists only for the registry test (one file + one registry entry, nothing else).

Forget weights 0.5, retain weights 1, the RapidUn objective: enough to train an adapter and be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rapidun.errors import RapidunError
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms


@dataclass(frozen=True)
class ThrowawayParams:
    forget_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.forget_weight <= 0:
            raise RapidunError(f"throwaway parameter forget_weight must be > 0, got {self.forget_weight}")


def throwaway_weights(ctx: MethodContext, params: ThrowawayParams) -> MethodWeights:
    with ctx.ledger.stage("weights"):
        forget = np.full(ctx.data.n_forget, params.forget_weight)
        retain = np.ones(ctx.data.n_retain)
    return MethodWeights(forget, retain, "throwaway: constant weights")


METHOD = GradientMethod(
    params_cls=ThrowawayParams,
    weights=throwaway_weights,
    terms=default_terms,
    description="a throw-away method of the registry test",
)
