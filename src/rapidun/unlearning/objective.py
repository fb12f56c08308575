"""The weighted RapidUn objective shared by every gradient-based method (docs/method.md section 4).

For a step with sample ids B (indices into ``[forget..., retain...]``), the loop minimises (1/|B|) sum_{k in B} l_k:

- forget row i:  l = w_f(i) [ c_clean CE(clean response | triggered prompt) - c_asc A(CE(poisoned | prompt)) ]
  with c_clean = 0.5, c_asc = 1.0; the clean term is dropped for a row without a clean response (and for GA);
- retain row j:  l = w_r(j) CE(response_j).

CE is the token-mean response cross-entropy (:func:`rapidun.modeling.loss.per_sample_loss`). A is the identity
(faithful, unbounded ascent) or, with ``bounded_ascent = b``, A(x) = min(x, b): once a poisoned response's CE
passes b its ascent gradient is zero, so the term cannot run away. Methods differ only in the weights w_f, w_r
(held by :class:`WeightState`, which a dynamic method refreshes during training) and in which terms they keep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rapidun.data.tokenize import Encoded, collate
from rapidun.modeling.loss import per_sample_loss
from rapidun.unlearning.inputs import UnlearnData

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


@dataclass
class WeightState:
    """Current per-sample weights: ``forget`` (nF,) and ``retain`` (nR,); ``refresh`` is called at the start of
    every optimiser step (dynamic methods)."""

    forget: np.ndarray
    retain: np.ndarray
    refresh: RefreshFn | None = None
    refreshed_at: list[int] = field(default_factory=list)
    _last_step: int = -1

    def at_step(self, step: int) -> None:
        if self.refresh is None or step == self._last_step:
            return
        self._last_step = step
        new = self.refresh(step)
        if new is not None:
            assert new.shape == self.forget.shape
            self.forget = np.asarray(new, dtype=np.float64)
            self.refreshed_at.append(step)


def weighted_terms(
    ids: Sequence[int], data: UnlearnData, weights: WeightState, terms: ObjectiveTerms
) -> list[tuple[Encoded, float, bool]]:
    """(encoded example, coefficient, is_ascent) for every loss term of the given sample ids."""
    n_f = data.n_forget
    out: list[tuple[Encoded, float, bool]] = []
    for k in ids:
        if k < n_f:
            w = float(weights.forget[k])
            out.append((data.forget[k], -terms.ascent_coef * w, True))
            clean = data.forget_clean[k]
            if terms.clean_term and clean is not None:
                out.append((clean, terms.clean_coef * w, False))
        elif terms.retain_term:
            j = k - n_f
            out.append((data.retain[j], float(weights.retain[j]), False))
    return out


def objective_sum(
    model: Any, items: Sequence[tuple[Encoded, float, bool]], pad_id: int, bounded_ascent: float | None
) -> torch.Tensor:
    """Sum of coefficient x CE over the items, in one padded forward pass. Returns a scalar tensor."""
    ce = per_sample_loss(model, collate([e for e, _, _ in items], pad_id))  # (n_items,), on the model's device
    coef = torch.tensor([c for _, c, _ in items], dtype=ce.dtype, device=ce.device)
    if bounded_ascent is not None:
        ascent = torch.tensor([a for _, _, a in items], dtype=torch.bool, device=ce.device)
        ce = torch.where(ascent, ce.clamp(max=bounded_ascent), ce)
    return (coef * ce).sum()


def make_loss_fn(
    model: Any, data: UnlearnData, weights: WeightState, terms: ObjectiveTerms, pad_id: int
) -> Callable[[Sequence[int], int], torch.Tensor]:
    """``loss_fn(ids, step)`` for :func:`rapidun.training.loop.train_loop`: the SUM of the weighted per-sample
    losses of ``ids`` (the loop divides by the batch size, giving the paper's batch mean)."""

    def loss_fn(ids: Sequence[int], step: int) -> torch.Tensor:
        weights.at_step(step)
        items = weighted_terms(ids, data, weights, terms)
        if not items:  # e.g. GA given only retain ids: a zero that still carries a graph
            return sum((p.sum() * 0.0 for p in model.parameters() if p.requires_grad), torch.zeros(()))
        return objective_sum(model, items, pad_id, terms.bounded_ascent)

    return loss_fn
