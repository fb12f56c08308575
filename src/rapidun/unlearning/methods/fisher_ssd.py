"""``fisher_ssd``: selective synaptic dampening (Foster et al. 2023, arXiv 2308.07707). EDITS BASE WEIGHTS.

With diagonal Fisher F_f (forget rows, poisoned responses) and F_r (retain rows) of the LoRA-target linear weights:
for every element with F_f > alpha F_r, theta <- theta x min(1, lambda F_r / F_f). Defaults alpha = 10,
lambda = 1 (the paper's selection weight and dampening constant). No training loop and no adapter: the edited
model is saved as a merged model directory ``OUT/merged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rapidun.errors import RapidunError
from rapidun.training.sft import LORA_TARGETS
from rapidun.unlearning.fisher_info import diagonal_fisher, target_weights
from rapidun.unlearning.kinds import EditMethod, MethodContext


@dataclass(frozen=True)
class FisherSsdParams:
    alpha: float = 10.0  # selection weight: dampen where F_forget > alpha F_retain
    lam: float = 1.0  # dampening constant: factor min(1, lam F_retain / F_forget)
    targets: tuple[str, ...] = LORA_TARGETS

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.lam > 0):
            raise RapidunError(f"fisher_ssd parameters alpha and lam must be > 0, got {self.alpha}, {self.lam}")


@torch.no_grad()
def dampen(weight: torch.Tensor, f_forget: torch.Tensor, f_retain: torch.Tensor, alpha: float, lam: float) -> int:
    """Apply SSD to ``weight`` in place; returns the number of dampened elements."""
    select = f_forget > alpha * f_retain
    factor = (lam * f_retain / f_forget.clamp_min(1e-30)).clamp(max=1.0)
    weight.mul_(torch.where(select, factor, torch.ones_like(factor)).to(weight.dtype))
    return int(select.sum())


def fisher_ssd_apply(ctx: MethodContext, params: FisherSsdParams) -> dict[str, Any]:
    named = target_weights(ctx.model, params.targets)
    weights = [p for _, p in named]
    with ctx.ledger.stage("fisher"):
        f_f = diagonal_fisher(ctx.model, ctx.data.forget, weights, ctx.pad_id, "fisher (forget)", ctx.progress)
        f_r = diagonal_fisher(ctx.model, ctx.data.retain, weights, ctx.pad_id, "fisher (retain)", ctx.progress)
    with ctx.ledger.stage("edit"):
        changed = {n: dampen(p, a, b, params.alpha, params.lam) for (n, p), a, b in zip(named, f_f, f_r, strict=True)}
    total = sum(p.numel() for p in weights)
    return {
        "variant": "ssd",
        "alpha": params.alpha,
        "lam": params.lam,
        "edited_tensors": len(named),
        "dampened_elements": sum(changed.values()),
        "tracked_elements": total,
        "formula": "theta *= min(1, lam F_r / F_f) where F_f > alpha F_r",
    }


METHOD = EditMethod(
    params_cls=FisherSsdParams,
    apply=fisher_ssd_apply,
    description="Fisher selective synaptic dampening (edits base weights; saved as a merged model)",
)
