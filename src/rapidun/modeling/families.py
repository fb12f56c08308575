"""Transformers config of each architecture family for a size name (``--arch``), built offline from the config
classes: the same hidden size, depth, heads and MLP width in each family's own field names.

Families differ in how they store projections (GPT-2 ``Conv1D``, fused qkv in GPT-NeoX / Falcon / Phi-3, MoE
experts in Qwen2-MoE); :mod:`rapidun.modeling.targets` finds them whatever the naming.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transformers import PretrainedConfig

# (hidden, layers, heads, kv_heads, intermediate, max_positions) are read from a ModelSize; ``common`` holds
# vocab_size and the special token ids.
Builder = Callable[[Any, dict[str, Any]], PretrainedConfig]


def _llama_like(cls_name: str, **extra: Any) -> Builder:
    def build(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
        import transformers

        cls = getattr(transformers, cls_name)
        return cls(
            hidden_size=spec.hidden,
            intermediate_size=spec.intermediate,
            num_hidden_layers=spec.layers,
            num_attention_heads=spec.heads,
            num_key_value_heads=spec.kv_heads,
            max_position_embeddings=spec.max_positions,
            tie_word_embeddings=True,
            **common,
            **extra,
        )

    return build


def _gemma(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
    # Gemma's default head_dim is 256 whatever the width; a small model needs hidden / heads.
    return _llama_like("GemmaConfig", head_dim=spec.hidden // spec.heads)(spec, common)


def _gpt2(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
    from transformers import GPT2Config

    return GPT2Config(
        n_embd=spec.hidden,
        n_layer=spec.layers,
        n_head=spec.heads,
        n_inner=spec.intermediate,
        n_positions=spec.max_positions,
        **common,
    )


def _gpt_neox(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        hidden_size=spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        intermediate_size=spec.intermediate,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        **common,
    )


def _opt(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
    from transformers import OPTConfig

    return OPTConfig(
        hidden_size=spec.hidden,
        word_embed_proj_dim=spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        ffn_dim=spec.intermediate,
        max_position_embeddings=spec.max_positions,
        **common,
    )


def _falcon(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
    from transformers import FalconConfig

    return FalconConfig(
        hidden_size=spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        ffn_hidden_size=spec.intermediate,
        max_position_embeddings=spec.max_positions,
        **common,
    )


def _qwen2_moe(spec: Any, common: dict[str, Any]) -> PretrainedConfig:
    # Four routed experts (two per token) of a quarter of the MLP width, plus one shared expert of the full width.
    return _llama_like(
        "Qwen2MoeConfig",
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=max(8, spec.intermediate // 4),
        shared_expert_intermediate_size=spec.intermediate,
        decoder_sparse_step=1,
    )(spec, common)


FAMILIES: dict[str, Builder] = {
    "llama": _llama_like("LlamaConfig"),
    "mistral": _llama_like("MistralConfig", sliding_window=None),
    "qwen2": _llama_like("Qwen2Config"),
    "gemma": _gemma,
    "phi": _llama_like("PhiConfig"),
    "phi3": _llama_like("Phi3Config"),
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "opt": _opt,
    "falcon": _falcon,
    "qwen2_moe": _qwen2_moe,
}
