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
from rapidun.modeling.targets import is_lora_part, layer_shape, leaf, projection_layers, resolve_targets

PARAM_CHOICES = ("lora-targets", "all-linear", "adapter")

# consumer(layer index, x (batch, seq, d_in), delta (batch, seq, d_out))
Consumer = Callable[[int, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class TrackedLayer:
    name: str  # module path, e.g. "model.layers.0.self_attn.q_proj"
    d_out: int
    d_in: int


def select_layers(model: nn.Module, params: str = "lora-targets") -> list[tuple[str, nn.Module]]:
    """The tracked projection modules (``nn.Linear`` or GPT-2 ``Conv1D``), in ``named_modules`` order.

    ``lora-targets``: the layers ``--targets auto`` gives LoRA (:func:`rapidun.modeling.targets.resolve_targets`:
    every attention / MLP projection; for a PEFT model their base layers); ``all-linear``: every projection except
    the output head, MoE routers included; ``adapter``: the LoRA A/B matrices of the loaded adapter. A ``Conv1D``
    computes ``x W`` with ``W`` (d_in, d_out); its per-sample gradient is the transpose of ``delta^T x``, so the
    hooks treat it exactly as a linear layer and only the layout of ``W.grad`` differs."""
    if params not in PARAM_CHOICES:
        raise RapidunError(f"unknown --params '{params}'; choose one of {', '.join(PARAM_CHOICES)}")
    if params == "adapter":
        out: list[tuple[str, nn.Module]] = [
            (n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and is_lora_part(n)
        ]
        if not out:
            raise RapidunError(
                "--params adapter selects no layer: the model has no LoRA adapter; pass --adapter or choose "
                "--params lora-targets"
            )
        return out
    if params == "all-linear":
        out = projection_layers(model, keep_routers=True)
        if not out:
            resolve_targets(model)  # raises, naming what the model holds
        return out
    targets = set(resolve_targets(model))
    return [(n, m) for n, m in projection_layers(model) if leaf(n) in targets]


def describe(layers: Sequence[tuple[str, nn.Module]]) -> list[TrackedLayer]:
    """Name and (d_out, d_in) of each tracked layer (a Conv1D's stored weight is (d_in, d_out))."""
    return [TrackedLayer(n, *layer_shape(m)) for n, m in layers]


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


def per_sample_view(x: torch.Tensor, tokens: tuple[int, int] | None, name: str) -> torch.Tensor:
    """``x`` as (batch, seq, d). Some blocks flatten their tokens before a projection (OPT's MLP, the shared
    expert of Qwen2-MoE: (batch * seq, d)); those are viewed back. A layer that sees a *subset* of the tokens (a
    routed MoE expert) mixes samples in one input and cannot be tracked per sample."""
    if x.dim() == 3 or tokens is None:
        return x
    batch, seq = tokens
    if x.dim() == 2 and x.shape[0] == batch * seq:
        return x.view(batch, seq, x.shape[1])
    raise RapidunError(
        f"layer {name} receives {tuple(x.shape)} for a batch of {batch} x {seq} tokens (a subset, e.g. a routed "
        "MoE expert); it cannot be tracked per sample: choose --params lora-targets"
    )


@contextmanager
def capture(
    layers: Sequence[tuple[str, nn.Module]], consumer: Consumer | None, tokens: tuple[int, int] | None = None
) -> Iterator[list[int]]:
    """Within the block, every forward of a tracked layer makes its output require grad and, during the
    following backward, calls ``consumer(i, x, delta)`` with x, delta as (batch, seq, d) (``tokens`` = (batch,
    seq) lets a flattened (batch * seq, d) layer input be viewed back). ``consumer=None`` only enables the
    activation gradients (the speed floor). Yields a list that counts the layers whose delta arrived in the last
    backward."""
    arrived: list[int] = [0]
    handles = []

    def make(i: int, name: str) -> Callable[[nn.Module, Any, torch.Tensor], None]:
        def fwd(_mod: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            x = per_sample_view(inputs[0].detach(), tokens, name)
            if not out.requires_grad:
                out.requires_grad_(True)
            if consumer is None:
                return

            def on_grad(delta: torch.Tensor) -> None:
                consumer(i, x, per_sample_view(delta, tokens, name))
                arrived[0] += 1

            out.register_hook(on_grad)

        return fwd

    for i, (name, mod) in enumerate(layers):
        handles.append(mod.register_forward_hook(make(i, name)))
    try:
        yield arrived
    finally:
        for h in handles:
            h.remove()


def backward_sum(losses: torch.Tensor) -> None:
    """Back-propagate ``sum_b L_b`` (each sample's gradient is independent of the others)."""
    losses.sum().backward()
