"""``loreun``: static LoReUn, forget weights from the starting model's per-sample loss (see :mod:`.loreun_weights`).

Weights are computed once before training; the objective is RapidUn's with retain weights 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.loreun_weights import (
    DEFAULT_TAU_SCALE,
    check_loreun,
    effective_tau,
    forget_losses,
    loss_weights,
)


@dataclass(frozen=True)
class LoreunParams:
    tau: float = 1.0
    variant: str = "low_loss"  # "low_loss" (LoReUn: exp(-L/tau)) or "hard_high" (released code: exp(+L/tau))
    tau_scale: str = field(
        default=DEFAULT_TAU_SCALE,
        metadata={"help": "loss_mad (default): tau x 1.4826 MAD of the starting forget losses; absolute: tau as given"},
    )

    def __post_init__(self) -> None:
        check_loreun(self.tau, self.variant, self.tau_scale)


def loreun_weights(ctx: MethodContext, params: LoreunParams) -> MethodWeights:
    with ctx.ledger.stage("weights"):
        losses = forget_losses(ctx.model, ctx.data.forget, ctx.pad_id)
        tau = effective_tau(losses, params.tau, params.tau_scale)
        forget = loss_weights(losses, tau, params.variant)
    retain = np.ones(ctx.data.n_retain)
    summary = {
        "forget_losses": losses.tolist(),
        "forget_weights": forget.tolist(),
        "tau": params.tau,
        "tau_scale": params.tau_scale,
        "tau_effective": tau if tau != float("inf") else None,  # None: all losses equal
        "variant": params.variant,
    }
    return MethodWeights(forget, retain, "loreun: starting-model loss", summary)


METHOD = GradientMethod(
    params_cls=LoreunParams,
    weights=loreun_weights,
    terms=default_terms,
    description="LoReUn static: forget weights exp(-loss/tau) of the starting model",
)
