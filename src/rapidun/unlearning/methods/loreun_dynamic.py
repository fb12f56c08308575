"""``loreun_dynamic``: LoReUn with forget weights recomputed from the current model every ``refresh_every`` steps.

At step 0 the weights equal static ``loreun``'s. Each recomputation (step t, weights) is appended to
``OUT/loreun_weights.json`` so that a run resumed at step s restores the weights of step floor(s / K) K and ends
equal to an uninterrupted run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_json
from rapidun.errors import RapidunError
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.loreun_weights import check_loreun, forget_losses, loss_weights
from rapidun.unlearning.objective import RefreshFn

HISTORY = "loreun_weights.json"


@dataclass(frozen=True)
class LoreunDynamicParams:
    tau: float = 1.0
    variant: str = "low_loss"
    refresh_every: int = 20  # optimiser steps between recomputations

    def __post_init__(self) -> None:
        check_loreun(self.tau, self.variant)
        if self.refresh_every < 1:
            raise RapidunError(f"loreun_dynamic parameter refresh_every must be >= 1, got {self.refresh_every}")


def loreun_dynamic_weights(ctx: MethodContext, params: LoreunDynamicParams) -> MethodWeights:
    with ctx.ledger.stage("weights"):
        forget = loss_weights(forget_losses(ctx.model, ctx.data.forget, ctx.pad_id), params.tau, params.variant)
    return MethodWeights(
        forget,
        np.ones(ctx.data.n_retain),
        "loreun_dynamic: starting-model loss",
        {"tau": params.tau, "variant": params.variant, "refresh_every": params.refresh_every},
    )


def loreun_refresh(model: Any, ctx: MethodContext, params: LoreunDynamicParams) -> RefreshFn:
    path = ctx.out_dir / HISTORY
    history: dict[str, list[float]] = json.loads(path.read_text()) if path.is_file() else {}

    started = [False]

    def refresh(step: int) -> np.ndarray | None:
        at = step - step % params.refresh_every
        if started[0] and step != at:
            return None  # between refreshes: keep the current weights
        started[0] = True  # the first step of this process (0, or a resumed step) always loads its weights
        if step % params.refresh_every == 0 and str(step) not in history:
            losses = forget_losses(model, ctx.data.forget, ctx.pad_id)
            history[str(step)] = loss_weights(losses, params.tau, params.variant).tolist()
            if ctx.is_main:
                atomic_write_json(path, history)
        if str(at) not in history:
            raise RapidunError(
                f"cannot resume loreun_dynamic: '{path}' lacks the weights of step {at}; rerun with --overwrite"
            )
        return np.asarray(history[str(at)], dtype=np.float64)

    return refresh


METHOD = GradientMethod(
    params_cls=LoreunDynamicParams,
    weights=loreun_dynamic_weights,
    terms=default_terms,
    refresh=loreun_refresh,
    description="LoReUn dynamic: forget weights exp(-loss/tau) recomputed during training",
)
