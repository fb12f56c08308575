"""The weighted RapidUn objective shared by every gradient-based method (docs/method.md section 4).

For a step with sample ids B (indices into ``[forget..., retain...]``), the loop minimises (1/|B|) sum_{k in B} l_k:

- forget row i:  l = w_f(i) [ c_clean CE(clean response | triggered prompt) - c_asc A(CE(poisoned | prompt)) ]
  with c_clean = 0.5, c_asc = 1.0; the clean term is dropped for a row without a clean response (and for GA);
- retain row j:  l = w_r(j) CE(response_j).

CE is the token-mean response cross-entropy (:func:`rapidun.modeling.loss.per_sample_loss`). A is the identity
(faithful, unbounded ascent) or, with ``bounded_ascent = b``, A(x) = min(x, b): once a poisoned response's CE
passes b its ascent gradient is zero, so the term cannot run away. Methods differ only in the weights w_f, w_r
(held by :class:`WeightState`, which a dynamic method refreshes during training) and in which terms they keep.

Preference-style forget losses (docs/method.md section 5) replace the ascent term ``-c_asc A(CE)`` of a forget row
by ``c_asc w_f(i) L(i)`` with, for the poisoned response y of prompt x (log p = SUM of response-token log-probs,
|y| = number of response tokens):

- ``npo`` (Zhang et al. 2024):  L = -(2/beta) log sigmoid(-beta (log p_theta(y|x) - log p_ref(y|x))), p_ref the
  starting model (frozen; the backbone with the new adapter disabled);
- ``simnpo`` (Fan et al. 2024): L = -(2/beta) log sigmoid(-(beta/|y|) log p_theta(y|x) - gamma), reference-free.

The token-weighted ascent of ``wga`` (Wang et al. 2025) keeps the ascent sign and replaces A(CE) by
(1/|y|) sum_t p_t^beta CE_t, p_t = exp(-CE_t) the current probability of response token t, its weight detached.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rapidun.data.tokenize import Encoded, collate
from rapidun.modeling.loss import response_nll, response_token_ce
from rapidun.unlearning.inputs import UnlearnData
from rapidun.unlearning.weight_application import batch_scales

# Forget-row loss forms: "ascent" (-CE), "reference_ratio" (NPO's log-sigmoid of the beta-scaled log-likelihood
# ratio to the reference model), "length_normalised" (SimNPO's reference-free, length-normalised form with margin).
# "likelihood_weighted": WGA's ascent with each token's CE weighted by its current probability to the power beta.
FORGET_LOSSES = ("ascent", "reference_ratio", "length_normalised", "likelihood_weighted")
ASCENT_LOSSES = ("ascent", "likelihood_weighted")  # maximised (negated coefficient); the others are minimised

RefreshFn = Callable[[int], "np.ndarray | None"]
"""(optimiser step, 0-based) -> new forget weights (nF,) to use from this step on, or None to keep the current.
Called once at the start of every step; the steps where it returned weights are recorded in ``run.json``."""


@dataclass(frozen=True)
class ObjectiveTerms:
    """Which terms a method keeps and their coefficients."""

    clean_coef: float = 0.5
    ascent_coef: float = 1.0
    clean_term: bool = True
    retain_term: bool = True
    bounded_ascent: float | None = None
    forget_loss: str = "ascent"  # one of FORGET_LOSSES: the loss of a forget row's poisoned response
    beta: float = 0.0  # npo / simnpo inverse temperature, wga token-weight exponent (unused by "ascent")
    gamma: float = 0.0  # simnpo reward margin (unused otherwise)

    def __post_init__(self) -> None:  # internal invariants: the methods' params classes check user input
        assert self.forget_loss in FORGET_LOSSES, self.forget_loss
        assert self.forget_loss == "ascent" or self.beta > 0, "npo / simnpo / wga need beta > 0"


def npo_loss(logp: torch.Tensor, ref_logp: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO forget loss per row, -(2/beta) log sigmoid(-beta (logp - ref_logp)); inputs and output (n,), logp the
    summed response log-probability under the trained model, ref_logp under the frozen starting model."""
    return -(2.0 / beta) * F.logsigmoid(-beta * (logp - ref_logp))


def simnpo_loss(logp: torch.Tensor, n_tokens: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    """SimNPO forget loss per row, -(2/beta) log sigmoid(-(beta/|y|) logp - gamma); ``logp`` (n,) the summed
    response log-probability, ``n_tokens`` (n,) the response length |y|."""
    return -(2.0 / beta) * F.logsigmoid(-(beta / n_tokens) * logp - gamma)


@dataclass
class WeightState:
    """Current per-sample weights: ``forget`` (nF,) and ``retain`` (nR,); ``refresh`` is called at the start of
    every optimiser step (dynamic methods) and the seconds of each call that returned weights are recorded.
    ``batches``: the schedule (steps x ids) when weights are normalised within each batch (docs/method.md
    section 5, ``batch_normalised``); the row weight is then w_k / mean weight of its group's draws in the batch."""

    forget: np.ndarray
    retain: np.ndarray
    refresh: RefreshFn | None = None
    refreshed_at: list[int] = field(default_factory=list)
    refresh_seconds: list[float] = field(default_factory=list)
    batches: Sequence[Sequence[int]] | None = None
    scales: tuple[float, float] = (1.0, 1.0)  # (forget, retain) factors of the current batch
    _last_step: int = -1

    def at_step(self, step: int) -> None:
        if step == self._last_step:
            return
        self._last_step = step
        if self.refresh is not None:
            start = time.perf_counter()
            new = self.refresh(step)
            if new is not None:
                assert new.shape == self.forget.shape
                self.forget = np.asarray(new, dtype=np.float64)
                self.refreshed_at.append(step)
                self.refresh_seconds.append(time.perf_counter() - start)
        if self.batches is not None:
            self.scales = batch_scales(self.batches[step], len(self.forget), self.forget, self.retain)

    def forget_weight(self, i: int) -> float:
        return float(self.forget[i]) * self.scales[0]

    def retain_weight(self, j: int) -> float:
        return float(self.retain[j]) * self.scales[1]


Term = tuple[Encoded, float, str, int]
"""(encoded example, coefficient, loss kind, forget row index or -1); kinds: "ce" (descended), "ascent",
"reference_ratio", "length_normalised" (the last three on a forget row's poisoned response)."""


def weighted_terms(ids: Sequence[int], data: UnlearnData, weights: WeightState, terms: ObjectiveTerms) -> list[Term]:
    """Every loss term of the given sample ids, with its coefficient (the row's weight times the term's)."""
    n_f = data.n_forget
    ascent = terms.forget_loss in ASCENT_LOSSES
    out: list[Term] = []
    for k in ids:
        if k < n_f:
            w = weights.forget_weight(k)
            # ascent is a negated CE; the preference losses are already losses to minimise
            out.append((data.forget[k], (-1.0 if ascent else 1.0) * terms.ascent_coef * w, terms.forget_loss, k))
            clean = data.forget_clean[k]
            if terms.clean_term and clean is not None:
                out.append((clean, terms.clean_coef * w, "ce", -1))
        elif terms.retain_term:
            j = k - n_f
            out.append((data.retain[j], weights.retain_weight(j), "ce", -1))
    return out


def objective_sum(
    model: Any, items: Sequence[Term], pad_id: int, terms: ObjectiveTerms, reference: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum of coefficient x per-item loss over the items, in one padded forward pass. Returns a scalar tensor.
    ``reference`` (nF,): the starting model's summed response NLL of every forget row (npo only)."""
    ce, mask = response_token_ce(model, collate([e for e, _, _, _ in items], pad_id))  # (n_items, seq-1) each
    nll, n_tok = ce.sum(dim=1), mask.sum(dim=1)
    loss = nll / n_tok.clamp_min(1)  # token-mean CE, exactly as per_sample_loss computes it
    coef = torch.tensor([c for _, c, _, _ in items], dtype=loss.dtype, device=loss.device)
    kinds = [kind for _, _, kind, _ in items]

    def where(kind: str) -> torch.Tensor:
        return torch.tensor([k == kind for k in kinds], dtype=torch.bool, device=loss.device)

    if terms.bounded_ascent is not None and "ascent" in kinds:
        loss = torch.where(where("ascent"), loss.clamp(max=terms.bounded_ascent), loss)
    if "reference_ratio" in kinds:
        assert reference is not None, "npo needs the reference NLL of the forget rows"
        rows = torch.tensor([max(r, 0) for _, _, _, r in items], device=reference.device)
        ref_logp = -reference[rows].to(device=loss.device, dtype=loss.dtype)
        loss = torch.where(where("reference_ratio"), npo_loss(-nll, ref_logp, terms.beta), loss)
    if "likelihood_weighted" in kinds:
        weighted = (torch.exp(-terms.beta * ce).detach() * ce).sum(dim=1) / n_tok.clamp_min(1)  # ce is 0 off y
        loss = torch.where(where("likelihood_weighted"), weighted.to(loss.dtype), loss)
    if "length_normalised" in kinds:
        length = n_tok.clamp_min(1).to(loss.dtype)
        loss = torch.where(where("length_normalised"), simnpo_loss(-nll, length, terms.beta, terms.gamma), loss)
    return (coef * loss).sum()


@torch.no_grad()
def reference_nll(model: Any, examples: Sequence[Encoded], pad_id: int, batch_size: int = 8) -> torch.Tensor:
    """Summed response NLL (n,) of each example under the frozen starting model: the LoRA adapter disabled (a PEFT
    model; any other model is used as it is), eval mode (no dropout); the model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    out: list[torch.Tensor] = []
    try:
        with model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext():
            for start in range(0, len(examples), batch_size):
                nll, _ = response_nll(model, collate(list(examples[start : start + batch_size]), pad_id))
                out.append(nll.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def make_loss_fn(
    model: Any,
    data: UnlearnData,
    weights: WeightState,
    terms: ObjectiveTerms,
    pad_id: int,
    reference: torch.Tensor | None = None,
) -> Callable[[Sequence[int], int, Any], torch.Tensor]:
    """``loss_fn(ids, step, forward=None)`` for :func:`rapidun.training.loop.train_loop`: the SUM of the weighted
    per-sample losses of ``ids`` (the loop divides by the batch size, giving the paper's batch mean), computed by a
    forward through ``forward`` (the loop passes the model, or its DDP wrapper in a multi-process run; default
    ``model``). For ``npo`` without a given ``reference``, it is computed once, at the first call, from ``model``
    with its adapter disabled."""
    cached = [reference]

    def loss_fn(ids: Sequence[int], step: int, forward: Any = None) -> torch.Tensor:
        weights.at_step(step)
        items = weighted_terms(ids, data, weights, terms)
        if not items:  # e.g. GA given only retain ids: a zero that still carries a graph
            return sum((p.sum() * 0.0 for p in model.parameters() if p.requires_grad), torch.zeros(()))
        if terms.forget_loss == "reference_ratio" and cached[0] is None:
            cached[0] = reference_nll(model, data.forget, pad_id)
        return objective_sum(model if forward is None else forward, items, pad_id, terms, cached[0])

    return loss_fn
