"""``--targets auto`` on every family: attention and MLP projections found, head and embeddings left out, the
Llama default unchanged, LoRA and influence tracking the same layers; clear errors otherwise."""

from __future__ import annotations

import pytest
import torch
from arch_models import EXPECTED_TARGETS, FAMILIES, tiny
from torch import nn

from rapidun.errors import RapidunError
from rapidun.influence.hooks import describe, select_layers
from rapidun.modeling.targets import resolve_targets
from rapidun.training.sft import LoraSettings, apply_lora


@pytest.mark.parametrize("arch", FAMILIES)
def test_auto_finds_attention_and_mlp(arch: str) -> None:
    model = tiny(arch, 300)
    attention, mlp = EXPECTED_TARGETS[arch]
    assert set(resolve_targets(model)) == attention | mlp
    tracked = select_layers(model, "lora-targets")
    assert not any(name.endswith(("lm_head", "embed_out", "wte", "embed_tokens")) for name, _ in tracked)
    # Every block contributes its attention and MLP projections.
    per_block = {n.split(".")[-1] for n, _ in tracked if ".0." in n or ".h.0." in n}
    assert per_block == attention | mlp


def test_llama_default_is_todays_seven_names() -> None:
    names = resolve_targets(tiny("llama", 300))
    assert names == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@pytest.mark.parametrize("arch", ["gpt2", "phi", "gpt_neox", "qwen2_moe"])
def test_lora_and_influence_cover_the_same_layers(arch: str) -> None:
    model = tiny(arch, 300)
    lora = apply_lora(model, LoraSettings(r=2, alpha=4, dropout=0.0))
    wrapped = {n.removeprefix("base_model.model.") for n, m in lora.named_modules() if hasattr(m, "lora_A")}
    wrapped = {n for n in wrapped if not n.endswith(("lora_A", "lora_B"))}
    tracked = {n.removeprefix("base_model.model.").removesuffix(".base_layer") for n, _ in select_layers(lora)}
    assert wrapped == tracked and len(tracked) > 0


def test_gpt2_conv1d_shapes_are_out_in() -> None:
    model = tiny("gpt2", 300)
    shapes = {t.name: (t.d_out, t.d_in) for t in describe(select_layers(model))}
    hidden, inner = 64, 176
    assert shapes["transformer.h.0.attn.c_attn"] == (3 * hidden, hidden)  # fused q, k, v
    assert shapes["transformer.h.0.mlp.c_fc"] == (inner, hidden)
    assert shapes["transformer.h.0.mlp.c_proj"] == (hidden, inner)


def test_moe_router_is_not_a_target() -> None:
    model = tiny("qwen2_moe", 300)
    names = {n for n, _ in select_layers(model, "lora-targets")}
    assert not any(n.endswith("shared_expert_gate") for n in names)
    assert any(n.endswith("shared_expert_gate") for n, _ in select_layers(model, "all-linear"))


def test_explicit_targets_still_work_and_wrong_ones_list_candidates() -> None:
    model = tiny("gpt_neox", 300)
    assert resolve_targets(model, ("query_key_value", "dense")) == ("query_key_value", "dense")
    with pytest.raises(RapidunError, match="candidates are: query_key_value, dense, dense_h_to_4h, dense_4h_to_h"):
        resolve_targets(model, ("q_proj",))


class _NoProjections(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.conv = nn.Conv1d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.embed(x).transpose(1, 2))


def test_no_projection_layer_names_what_was_found() -> None:
    with pytest.raises(RapidunError, match=r"found no projection layer .*Embedding, Conv1d"):
        resolve_targets(_NoProjections())
    with pytest.raises(RapidunError, match="found no projection layer"):
        select_layers(_NoProjections(), "all-linear")


@pytest.mark.parametrize("arch", ["gpt2", "phi", "gpt_neox"])
def test_fisher_methods_edit_the_auto_targets(arch: str) -> None:
    from rapidun.unlearning.fisher_info import target_weights

    model = tiny(arch, 300)
    attention, mlp = EXPECTED_TARGETS[arch]
    names = {name.split(".")[-2] for name, _ in target_weights(model, ("auto",))}
    assert names == attention | mlp  # Conv1D (GPT-2) and fused projections included, not the Llama names only
