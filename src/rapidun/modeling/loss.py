"""Per-sample response loss (docs/method.md section 2): the token-mean next-token cross-entropy over response tokens.

Correctly shifted: the logits at position t predict the token at t+1; positions whose label is -100 (prompt and
padding) are excluded from both the sum and the count.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rapidun.data.tokenize import IGNORE_INDEX
from rapidun.modeling.device import model_device


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token CE and its mask, both (batch, seq-1). ``logits`` (batch, seq, vocab), ``labels`` (batch, seq)."""
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    mask = shift_labels != IGNORE_INDEX
    ce = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.clamp_min(0).reshape(-1),
        reduction="none",
    ).view_as(shift_labels)
    return ce * mask, mask


def _on_model(model: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    device = model_device(model)
    return {k: v.to(device) for k, v in batch.items()} if batch["input_ids"].device != device else batch


def per_sample_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """L(z) for each sample of the batch, shape (batch,): sum of response-token CE / number of response tokens."""
    batch = _on_model(model, batch)
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    ce, mask = token_losses(out.logits, batch["labels"])
    return ce.sum(dim=1) / mask.sum(dim=1).clamp_min(1)


def response_token_ce(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token response CE (zero off the response) and its mask, both (batch, seq-1), in one forward pass."""
    batch = _on_model(model, batch)
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return token_losses(out.logits, batch["labels"])


def response_nll(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed response CE and response-token count per sample, each (batch,); perplexity is exp(sum nll / sum n)."""
    ce, mask = response_token_ce(model, batch)
    return ce.sum(dim=1), mask.sum(dim=1)
