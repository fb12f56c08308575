"""``fisher_noise``: Fisher-scaled Gaussian noise (Golatkar et al. 2020 style). EDITS BASE WEIGHTS.

With the retain rows' diagonal Fisher F_r of the LoRA-target linear weights W:
theta <- theta + std * N(0, 1), std = min(sigma / sqrt(F_r + eps), max_rel_std * rms(W)),
so weights the retain data barely constrains get the most noise, capped per tensor relative to its scale.
Defaults sigma = 1e-3, eps = 1e-8, max_rel_std = 0.1; the noise is seeded (``seed``, default the run's seed).
Saved as a merged model directory ``OUT/merged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rapidun.errors import RapidunError
from rapidun.modeling.targets import AUTO
from rapidun.unlearning.fisher_info import diagonal_fisher, target_weights
from rapidun.unlearning.kinds import EditMethod, MethodContext


@dataclass(frozen=True)
class FisherNoiseParams:
    sigma: float = 1e-3
    eps: float = 1e-8
    max_rel_std: float = 0.1
    seed: int | None = None
    targets: tuple[str, ...] = (AUTO,)  # the projections LoRA would adapt (every architecture)

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and self.eps > 0 and self.max_rel_std > 0):
            raise RapidunError("fisher_noise parameters sigma, eps and max_rel_std must be > 0")


@torch.no_grad()
def add_noise(weight: torch.Tensor, f_retain: torch.Tensor, params: FisherNoiseParams, gen: torch.Generator) -> float:
    """Add the Fisher-scaled noise to ``weight`` in place; returns the mean std used."""
    cap = params.max_rel_std * float(weight.float().pow(2).mean().sqrt())
    std = (params.sigma / (f_retain + params.eps).sqrt()).clamp(max=cap)
    noise = torch.randn(weight.shape, generator=gen, dtype=torch.float32).to(weight.device)
    weight.add_((std * noise).to(weight.dtype))
    return float(std.mean())


def fisher_noise_apply(ctx: MethodContext, params: FisherNoiseParams) -> dict[str, Any]:
    named = target_weights(ctx.model, params.targets)
    weights = [p for _, p in named]
    with ctx.ledger.stage("fisher"):
        f_r = diagonal_fisher(ctx.model, ctx.data.retain, weights, ctx.pad_id, "fisher (retain)", ctx.progress)
    gen = torch.Generator().manual_seed(ctx.cfg.seed if params.seed is None else params.seed)
    with ctx.ledger.stage("edit"):
        stds = [add_noise(p, f, params, gen) for p, f in zip(weights, f_r, strict=True)]
    return {
        "variant": "noise",
        "sigma": params.sigma,
        "eps": params.eps,
        "max_rel_std": params.max_rel_std,
        "edited_tensors": len(named),
        "mean_std": sum(stds) / len(stds),
        "formula": "theta += min(sigma / sqrt(F_r + eps), max_rel_std rms(W)) N(0, 1)",
    }


METHOD = EditMethod(
    params_cls=FisherNoiseParams,
    apply=fisher_noise_apply,
    description="Fisher-scaled Gaussian noise (edits base weights; saved as a merged model)",
)
