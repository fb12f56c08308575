"""``loreun_dynamic``: LoReUn with forget weights recomputed from the current model every ``refresh_every`` steps.

At step 0 the weights equal static ``loreun``'s. Each recomputation (step t, weights) is appended to
``OUT/loreun_weights.json`` so that a run resumed at step s restores the weights of step floor(s / K) K and ends
equal to an uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rapidun.errors import RapidunError
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.loreun_weights import (
    DEFAULT_TAU_SCALE,
    check_loreun,
    effective_tau,
    forget_losses,
    loss_weights,
)
from rapidun.unlearning.objective import RefreshFn
from rapidun.unlearning.refresh_history import history_refresh

HISTORY = "loreun_weights.json"


@dataclass(frozen=True)
class LoreunDynamicParams:
    tau: float = 1.0
    variant: str = "low_loss"
    refresh_every: int = 20  # optimiser steps between recomputations
    tau_scale: str = field(
        default=DEFAULT_TAU_SCALE,
        metadata={"help": "loss_mad (default): tau x 1.4826 MAD of the starting forget losses; absolute: tau as given"},
    )

    def __post_init__(self) -> None:
        check_loreun(self.tau, self.variant, self.tau_scale)
        if self.refresh_every < 1:
            raise RapidunError(f"loreun_dynamic parameter refresh_every must be >= 1, got {self.refresh_every}")


def loreun_dynamic_weights(ctx: MethodContext, params: LoreunDynamicParams) -> MethodWeights:
    with ctx.ledger.stage("weights"):
        losses = forget_losses(ctx.model, ctx.data.forget, ctx.pad_id)
        tau = effective_tau(losses, params.tau, params.tau_scale)
        forget = loss_weights(losses, tau, params.variant)
    summary = {"tau": params.tau, "variant": params.variant, "refresh_every": params.refresh_every}
    summary.update(tau_scale=params.tau_scale, tau_effective=tau if tau != float("inf") else None)
    return MethodWeights(forget, np.ones(ctx.data.n_retain), "loreun_dynamic: starting-model loss", summary)


def loreun_refresh(model: Any, ctx: MethodContext, params: LoreunDynamicParams) -> RefreshFn:
    # The temperature's scale is fixed by the starting model: ``model`` still has its untrained adapter here (a
    # resumed run loads its checkpoint only later, in the training loop).
    tau = params.tau
    if params.tau_scale != "absolute":
        tau = effective_tau(forget_losses(model, ctx.data.forget, ctx.pad_id), params.tau, params.tau_scale)

    def compute(step: int) -> np.ndarray:
        return loss_weights(forget_losses(model, ctx.data.forget, ctx.pad_id), tau, params.variant)

    return history_refresh(ctx.out_dir / HISTORY, params.refresh_every, compute, ctx.is_main, "loreun_dynamic")


METHOD = GradientMethod(
    params_cls=LoreunDynamicParams,
    weights=loreun_dynamic_weights,
    terms=default_terms,
    refresh=loreun_refresh,
    description="LoReUn dynamic: forget weights exp(-loss/tau) recomputed during training",
)
