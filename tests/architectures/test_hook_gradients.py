"""Hook-based per-sample gradients equal autograd's on every family: GPT-2 Conv1D (weight stored transposed), fused
qkv projections, the shared expert of an MoE; batched equals one-by-one (docs/method.md section 2)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from arch_models import FAMILIES, tiny
from transformers.pytorch_utils import Conv1D

from rapidun.data.tokenize import collate, encode_rows
from rapidun.influence.gradients import project_batch
from rapidun.influence.hooks import describe, frozen, select_layers
from rapidun.influence.projector_registry import make_projector
from rapidun.modeling.loss import per_sample_loss


def _autograd(model: Any, layers: list, examples: list, pad_id: int) -> torch.Tensor:
    """Per-sample gradients, one example at a time, laid out (d_out, d_in) per layer and layer-normalised."""
    weights = [m.weight for _, m in layers]
    rows = []
    with frozen(model):
        for w in weights:
            w.requires_grad_(True)
        for ex in examples:
            loss = per_sample_loss(model, collate([ex], pad_id))[0]
            grads = torch.autograd.grad(loss, weights)
            parts = []
            for (_, mod), g in zip(layers, grads, strict=True):
                g = g.T if isinstance(mod, Conv1D) else g  # Conv1D stores W as (d_in, d_out)
                parts.append((g / g.norm()).reshape(-1))
            rows.append(torch.cat(parts))
    return torch.stack(rows).double()


@pytest.fixture
def examples(nano_model: Any, toy_rows: Any) -> list:
    return encode_rows(toy_rows[:5], nano_model.tokenizer, 48).examples


@pytest.mark.parametrize("arch", FAMILIES)
def test_exact_projection_equals_autograd(arch: str, nano_model: Any, examples: list) -> None:
    tok = nano_model.tokenizer
    model = tiny(arch, len(tok), tok.pad_token_id)
    layers = select_layers(model)
    ref = _autograd(model, layers, examples, tok.pad_token_id)
    proj = make_projector("exact", describe(layers))
    with frozen(model):
        got = project_batch(model, layers, proj, collate(examples, tok.pad_token_id)).double()
    assert ((got - ref).norm() / ref.norm()).item() <= 1e-4


@pytest.mark.parametrize("arch", ["gpt2", "phi3", "falcon", "qwen2_moe"])
def test_batched_equals_one_by_one(arch: str, nano_model: Any, examples: list) -> None:
    tok = nano_model.tokenizer
    model = tiny(arch, len(tok), tok.pad_token_id)
    layers = select_layers(model)
    proj = make_projector("kronecker", describe(layers), dim=256, seed=1)
    with frozen(model):
        batched = project_batch(model, layers, proj, collate(examples, tok.pad_token_id))
        single = torch.cat([project_batch(model, layers, proj, collate([e], tok.pad_token_id)) for e in examples])
    torch.testing.assert_close(batched, single, rtol=1e-3, atol=1e-4 * single.abs().max().item())


def test_a_layer_seeing_a_subset_of_tokens_is_refused() -> None:
    from rapidun.errors import RapidunError
    from rapidun.influence.hooks import per_sample_view

    flat = torch.zeros(6, 4)
    assert per_sample_view(flat, (2, 3), "mlp.fc1").shape == (2, 3, 4)
    with pytest.raises(RapidunError, match="experts.0 receives \\(5, 4\\) for a batch of 2 x 3 tokens"):
        per_sample_view(torch.zeros(5, 4), (2, 3), "experts.0")
