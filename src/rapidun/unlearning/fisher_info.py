"""Diagonal Fisher information of the LoRA-target projection weights, shared by ``fisher_ssd`` and ``fisher_noise``.

F(theta) = (1/n) sum_z (dL(z)/dtheta)^2, elementwise, with L(z) the token-mean response CE of row z (the poisoned
response for forget rows). Per-sample gradients come from one backward pass per row in eval mode (no dropout).
Restricting to the linear layers LoRA targets keeps the cost at one forward+backward per row and the memory at one
extra copy of those weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from rapidun.data.tokenize import Encoded, collate
from rapidun.errors import RapidunError
from rapidun.modeling.loss import per_sample_loss
from rapidun.modeling.targets import leaf, projection_layers, resolve_targets


def target_weights(model: Any, targets: Sequence[str]) -> list[tuple[str, torch.Tensor]]:
    """(name, weight) of every projection layer (``nn.Linear`` or GPT-2 ``Conv1D``) whose leaf name is one of
    ``targets``; ``("auto",)`` resolves them as LoRA does (:func:`rapidun.modeling.targets.resolve_targets`).

    Fisher and the edits of ``fisher_ssd`` / ``fisher_noise`` are elementwise, so a Conv1D's transposed weight needs
    no special case."""
    names = set(resolve_targets(model, tuple(targets)))
    layers = projection_layers(model, keep_routers=True)
    found = [(f"{n}.weight", m.weight) for n, m in layers if leaf(n) in names and isinstance(m.weight, torch.Tensor)]
    if not found:
        raise RapidunError(
            f"no projection layer named {', '.join(sorted(names))} in the model; pass targets with its projection names"
        )
    return found


def diagonal_fisher(
    model: Any,
    examples: Sequence[Encoded],
    params: Sequence[torch.Tensor],
    pad_id: int,
    desc: str = "fisher",
    progress: bool = True,
) -> list[torch.Tensor]:
    """Mean squared per-sample gradient for each of ``params`` (same shapes), over ``examples``."""
    assert examples
    saved = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    model.eval()
    fisher = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    try:
        for e in tqdm(examples, desc=desc, disable=not progress, leave=False):
            loss = per_sample_loss(model, collate([e], pad_id)).sum()
            grads = torch.autograd.grad(loss, list(params))
            for f, g in zip(fisher, grads, strict=True):
                f.add_(g.detach().float().pow(2))
    finally:
        for p, flag in zip(model.parameters(), saved, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
    for f in fisher:
        f.div_(len(examples))
    return fisher
