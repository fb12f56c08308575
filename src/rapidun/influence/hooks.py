"""Per-sample gradient pieces of tracked linear layers from one batched forward and backward.

For a linear layer ``out = x W^T (+ b)`` and the per-sample loss L_b, the gradient of L_b with respect to W is
``G_b = sum_t delta_{b,t}^T x_{b,t}`` with ``x`` the layer input (batch, seq, d_in) and ``delta = dL_b/d out``
(batch, seq, d_out). Samples do not interact in a causal LM, so back-propagating ``sum_b L_b`` gives every
sample's own ``delta_b`` at once. The model's parameters are frozen and each tracked layer's *output* is made to
require grad instead, so autograd never forms a weight gradient (docs/method.md section 2). A tensor hook on each
output hands ``(x, delta)`` to a consumer as soon as that layer's gradient is known, so the inputs are freed
layer by layer during the backward pass, as an ordinary backward frees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rapidun.errors import RapidunError

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PARAM_CHOICES = ("lora-targets", "all-linear", "adapter")

# consumer(layer index, x (batch, seq, d_in), delta (batch, seq, d_out))
Consumer = Callable[[int, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class TrackedLayer:
    name: str  # module path, e.g. "model.layers.0.self_attn.q_proj"
    d_out: int
    d_in: int


def _clean(name: str) -> str:
    return name.removesuffix(".base_layer")


def select_layers(model: nn.Module, params: str = "lora-targets") -> list[tuple[str, nn.Linear]]:
    """The tracked ``nn.Linear`` modules, in ``named_modules`` order.

    ``lora-targets``: the layers LoRA targets (q, k, v, o, gate, up, down; for a PEFT model their base layers);
    ``all-linear``: every linear layer except the output head; ``adapter``: the LoRA A/B matrices of the loaded
    adapter."""
    if params not in PARAM_CHOICES:
        raise RapidunError(f"unknown --params '{params}'; choose one of {', '.join(PARAM_CHOICES)}")
    out: list[tuple[str, nn.Linear]] = []
    for name, mod in model.named_modules():
        if not isinstance(mod, nn.Linear):
            continue
        parts = _clean(name).split(".")
        is_lora = any(p in ("lora_A", "lora_B") for p in parts)
        if params == "adapter":
            keep = is_lora
        elif params == "lora-targets":
            keep = not is_lora and parts[-1] in LORA_TARGETS
        else:
            keep = not is_lora and parts[-1] not in ("lm_head", "embed_out", "output")
        if keep:
            out.append((name, mod))
    if not out:
        hint = (
            "the model has no LoRA adapter; pass --adapter or choose --params lora-targets"
            if params == "adapter"
            else "choose --params all-linear"
        )
        raise RapidunError(f"--params {params} selects no linear layer in this model; {hint}")
    return out


def describe(layers: Sequence[tuple[str, nn.Linear]]) -> list[TrackedLayer]:
    return [TrackedLayer(n, m.out_features, m.in_features) for n, m in layers]


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Temporarily set ``requires_grad=False`` on every parameter (restored on exit)."""
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


@contextmanager
def capture(layers: Sequence[tuple[str, nn.Linear]], consumer: Consumer | None) -> Iterator[list[int]]:
    """Within the block, every forward of a tracked layer makes its output require grad and, during the
    following backward, calls ``consumer(i, x, delta)``. ``consumer=None`` only enables the activation gradients
    (the speed floor). Yields a list that counts the layers whose delta arrived in the last backward."""
    arrived: list[int] = [0]
    handles = []

    def make(i: int) -> Callable[[nn.Module, Any, torch.Tensor], None]:
        def fwd(_mod: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            x = inputs[0].detach()
            if not out.requires_grad:
                out.requires_grad_(True)
            if consumer is None:
                return

            def on_grad(delta: torch.Tensor) -> None:
                consumer(i, x, delta)
                arrived[0] += 1

            out.register_hook(on_grad)

        return fwd

    for i, (_, mod) in enumerate(layers):
        handles.append(mod.register_forward_hook(make(i)))
    try:
        yield arrived
    finally:
        for h in handles:
            h.remove()


def backward_sum(losses: torch.Tensor) -> None:
    """Back-propagate ``sum_b L_b`` (each sample's gradient is independent of the others)."""
    losses.sum().backward()
