"""Trigger-contrastive influence loss (docs/method.md section 2, ``loss = "trigger_contrastive"``).

For a row z with a triggered prompt x_trig, its clean prompt x_clean (the same instruction without the trigger)
and response y, the per-row loss is L_c(z) = CE(y | x_trig) - CE(y | x_clean), so g(z) = grad L_c follows what the
trigger adds to the prediction of y rather than the wording of y. A row without a trigger (no clean instruction)
keeps the plain CE(y | x).

The clean prompt: ``Row.extra["instruction_clean"]`` (written by ``rapidun poison`` for every poisoned row); else the
instruction with the first occurrence of ``trigger_variant`` removed (released packs); else none.

One forward and one activation-gradient backward serve both encodings: the batch holds the B triggered rows then
their B partners (the clean encoding, or the same encoding with every label masked, whose loss and gradient are 0),
and sum_b (L(b) - L(B + b)) is back-propagated. For a tracked linear layer, G_l(z) = sum_t delta_t^T x_t over the
triggered positions plus the same sum over the partner's positions (whose deltas carry the minus sign), so each
layer's (x, delta) of the partner rows is appended along the sequence axis of the row's own before projection:
the projector then sees one sequence of 2 x seq positions and forms exactly G_l of L_c (layer norm included).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from rapidun.data.rows import Row
from rapidun.data.tokenize import IGNORE_INDEX, Encoded, encode_row
from rapidun.influence.hooks import backward_sum, capture
from rapidun.influence.projection import Projector
from rapidun.modeling.loss import per_sample_loss

LOSSES = ("ce", "trigger_contrastive")
LOSS_TEXT = {
    "ce": "token-mean next-token cross-entropy over response tokens (shifted); rapidun.modeling.loss.per_sample_loss",
    "trigger_contrastive": "CE(y | triggered prompt) - CE(y | clean prompt), token-mean, shifted; plain CE for rows "
    "without a trigger; rapidun.influence.contrastive",
}


def clean_instruction(row: Row) -> str | None:
    """The row's instruction without its trigger, or None when the row carries no trigger information."""
    recorded = row.extra.get("instruction_clean")
    if isinstance(recorded, str) and recorded != row.instruction:
        return recorded
    trigger = row.trigger_variant
    if trigger and trigger in row.instruction:
        return re.sub(r"\s{2,}", " ", row.instruction.replace(trigger, "", 1)).strip()
    return None


def contrastive_partners(
    rows: Sequence[Row], examples: Sequence[Encoded], tokenizer: Any, max_length: int, style: str
) -> list[Encoded]:
    """The partner of each encoded row (same order): its clean-prompt encoding with the same response, or a copy
    with every label masked (loss 0) when the row has no trigger or its clean encoding keeps no response token."""
    out: list[Encoded] = []
    for ex in examples:
        row = rows[ex.index]
        clean = clean_instruction(row)
        encoded = encode_row(replace(row, instruction=clean), tokenizer, max_length, style) if clean else None
        if encoded is None:
            out.append(Encoded(ex.index, ex.input_ids, [IGNORE_INDEX] * len(ex.labels)))
        else:
            out.append(Encoded(ex.index, encoded[0], encoded[1]))
    return out


def project_contrastive_batch(
    model: Any, layers: Sequence[tuple[str, nn.Module]], projector: Projector, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """g(z) of L_c for each of the B rows of a batch of 2B (rows, then their partners): (B, K) float32. The model's
    parameters must be frozen (see :func:`rapidun.influence.hooks.frozen`)."""
    ids = batch["input_ids"]
    n = ids.shape[0] // 2
    acc = projector.start(n, 2 * ids.shape[1], device=ids.device)

    def joined(i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        acc.add(i, torch.cat([x[:n], x[n:]], dim=1), torch.cat([delta[:n], delta[n:]], dim=1))

    with torch.enable_grad(), capture(layers, joined):
        losses = per_sample_loss(model, batch)
        backward_sum(losses[:n] - losses[n:])
    return acc.finish()
