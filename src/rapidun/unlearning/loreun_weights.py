"""Loss-based forget weights of LoReUn (arXiv 2507.22499), shared by ``loreun`` and ``loreun_dynamic``.

w_i proportional to exp(-L_i / tau), normalised to mean one, where L_i is the model's token-mean CE on forget row
i's poisoned response: rows the model still fits well (low loss, hard to forget) get more weight. The released
code's ``hard_high`` variant, exp(+L_i / tau), up-weights high-loss rows instead (opposite sign; named variant only).
Retain weights are 1.

Temperature scale (``tau_scale``): ``"absolute"`` (today's default) uses tau as given, so the weights depend on the
loss units of the model (with a well-fitted backdoor the forget losses differ by far less than 1 and the weights come
out flat); ``"loss_mad"`` uses tau_eff = tau x 1.4826 MAD(L_0), L_0 the starting model's forget losses (their
standard deviation when the MAD is 0), so tau = 1 means "one robust standard deviation of the starting losses";
``loreun_dynamic`` keeps that tau_eff, fixed at the start, for every refresh.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rapidun.data.tokenize import Encoded, collate
from rapidun.errors import RapidunError
from rapidun.modeling.loss import per_sample_loss
from rapidun.weighting.mapping import MAD_SCALE

VARIANTS = ("low_loss", "hard_high")
TAU_SCALES = ("absolute", "loss_mad")
# loss_mad by default: an absolute tau of 1 on forget losses that spread over ~0.1 nats gives flat weights
# (LoReUn = uniform); scaled by the losses' spread the weights follow the losses at any loss scale
DEFAULT_TAU_SCALE = "loss_mad"


def check_loreun(tau: float, variant: str, tau_scale: str = DEFAULT_TAU_SCALE) -> None:
    if tau_scale not in TAU_SCALES:
        raise RapidunError(f"loreun parameter tau_scale must be one of {', '.join(TAU_SCALES)}, got {tau_scale!r}")
    if not tau > 0:
        raise RapidunError(f"loreun parameter tau must be > 0, got {tau}")
    if variant not in VARIANTS:
        raise RapidunError(f"loreun parameter variant must be one of {', '.join(VARIANTS)}, got {variant!r}")


@torch.no_grad()
def forget_losses(model: Any, examples: list[Encoded], pad_id: int, batch_size: int = 8) -> np.ndarray:
    """Per-sample CE (n,) in eval mode (no dropout, no RNG use); the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    out: list[float] = []
    try:
        for s in range(0, len(examples), batch_size):
            out.extend(float(x) for x in per_sample_loss(model, collate(examples[s : s + batch_size], pad_id)))
    finally:
        model.train(was_training)
    return np.asarray(out, dtype=np.float64)


def loss_weights(losses: np.ndarray, tau: float, variant: str = "low_loss") -> np.ndarray:
    """Mean-one weights (n,) from losses (n,); computed in log space (shifted by the max) to avoid overflow."""
    sign = -1.0 if variant == "low_loss" else 1.0
    if np.isinf(tau):
        return np.ones_like(losses, dtype=np.float64)
    logits = sign * losses / tau
    if not np.isfinite(logits).all():
        raise RapidunError("loreun: the model's loss on a forget row is not finite; check the model and the data")
    w = np.exp(logits - logits.max())
    return w / w.mean()


def effective_tau(losses: np.ndarray, tau: float, tau_scale: str) -> float:
    """The temperature used: ``tau`` (absolute) or tau x 1.4826 MAD(losses) (``loss_mad``; the std when the MAD
    is 0; ``inf``, i.e. all weights 1, when every loss is equal)."""
    if tau_scale == "absolute":
        return tau
    spread = MAD_SCALE * float(np.median(np.abs(losses - np.median(losses))))
    if spread <= 0:
        spread = float(np.std(losses))
    return tau * spread if spread > 0 else float("inf")
