"""``rapidun_saturation``: RapidUn's influence weights times a saturation factor refreshed from the current loss.

Loss reweighting studies (SatImp, arXiv 2505.11953; LoReUn, arXiv 2507.22499) find that emphasising forget rows
the model still fits ("not yet saturated") helps more than a fixed importance, and that the two combine; IMU (arXiv
2508.01620) reallocates influence-based priority during ascent. Here, at steps 0, K, 2K, ... (docs/method.md
section 5):

    w_f(i) proportional to w_infl(i) exp(-L_i / tau_eff),   normalised to mean one,

with w_infl the static ``rapidun`` forget weight, L_i the current model's CE on the poisoned response (eval mode)
and tau_eff = tau x 1.4826 MAD of the starting losses (:func:`rapidun.unlearning.loreun_weights.effective_tau`,
``loss_mad``). A refresh costs one forward pass over the forget rows (no influence recomputation); weights per
refresh go to ``OUT/saturation_weights.json`` (a resumed run restores them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import influence_weights, static_forget_weights
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.loreun_weights import effective_tau, forget_losses, loss_weights
from rapidun.unlearning.objective import RefreshFn
from rapidun.unlearning.refresh_history import history_refresh
from rapidun.weighting import WeightParams

HISTORY = "saturation_weights.json"


@dataclass(frozen=True)
class RapidunSaturationParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings (fields of rapidun.influence.stage.InfluenceConfig) when influence is computed here
    influence: InfluenceConfig | None = None  # None: the defaults with the run's max_length and prompt style
    tau: float = field(default=1.0, metadata={"help": "saturation temperature, in robust std of the starting losses"})
    refresh_every: int = field(default=20, metadata={"help": "optimiser steps between loss refreshes"})

    def __post_init__(self) -> None:
        if not self.tau > 0:
            raise RapidunError(f"rapidun_saturation parameter tau must be > 0, got {self.tau}")
        if self.refresh_every < 1:
            raise RapidunError(f"rapidun_saturation parameter refresh_every must be >= 1, got {self.refresh_every}")


def combined(influence: np.ndarray, losses: np.ndarray, tau: float) -> np.ndarray:
    """Mean-one forget weights (nF,): influence weight x exp(-loss / tau), renormalised."""
    w = influence * loss_weights(losses, tau, "low_loss")
    return w / w.mean()


def rapidun_saturation_weights(ctx: MethodContext, params: RapidunSaturationParams) -> MethodWeights:
    if ctx.weights_dir is not None:
        raise RapidunError("rapidun_saturation needs influence scores; pass --influence, not --weights")
    mw = influence_weights(ctx, params.weights, "rapidun", params.influence)
    with ctx.ledger.stage("weights"):
        losses = forget_losses(ctx.model, ctx.data.forget, ctx.pad_id)
        tau = effective_tau(losses, params.tau, "loss_mad")
        forget = combined(mw.forget, losses, tau)
    mw.summary["saturation"] = {
        "tau_effective": tau if np.isfinite(tau) else None,
        "refresh_every": params.refresh_every,
    }
    return MethodWeights(forget, mw.retain, f"{mw.source} x saturation", mw.summary)


def saturation_refresh(model: Any, ctx: MethodContext, params: RapidunSaturationParams) -> RefreshFn:
    # ``model`` still has its untrained adapter here: the starting losses fix tau_eff (a resumed run loads its
    # checkpoint later, in the training loop)
    tau = effective_tau(forget_losses(model, ctx.data.forget, ctx.pad_id), params.tau, "loss_mad")
    influence = static_forget_weights(ctx, params.weights)

    def compute(step: int) -> np.ndarray:
        return combined(influence, forget_losses(model, ctx.data.forget, ctx.pad_id), tau)

    return history_refresh(ctx.out_dir / HISTORY, params.refresh_every, compute, ctx.is_main, "rapidun_saturation")


METHOD = GradientMethod(
    params_cls=RapidunSaturationParams,
    weights=rapidun_saturation_weights,
    terms=default_terms,
    refresh=saturation_refresh,
    uses_influence=True,
    weighting="rapidun",
    description="RapidUn influence weights x exp(-current loss / tau), refreshed during training",
)
