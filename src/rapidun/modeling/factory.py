"""Small causal LMs built from a config by size name (random init), Llama by default, any family of
:data:`rapidun.modeling.families.FAMILIES` with ``--arch`` (mistral, qwen2, gemma, phi, phi3, gpt2, gpt_neox, opt,
falcon, qwen2_moe).

These stand in for the paper's Llama-3-8B / Mistral-7B where no weights can be downloaded; every command accepts a
size name wherever it accepts a hub id or a local directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel

from rapidun.modeling.families import FAMILIES

ARCHITECTURES = tuple(FAMILIES)


@dataclass(frozen=True)
class ModelSize:
    """Shape of a small model. ``vocab_size`` is the tokenizer's target vocabulary."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab_size: int
    max_positions: int = 512


# Parameter counts are for the Llama variant with tied embeddings.
SIZES: dict[str, ModelSize] = {
    "nano": ModelSize(hidden=64, layers=2, heads=4, kv_heads=4, intermediate=176, vocab_size=1024),  # ~0.2M
    "tiny": ModelSize(hidden=128, layers=4, heads=4, kv_heads=4, intermediate=344, vocab_size=2048),  # ~1.1M
    "small": ModelSize(hidden=256, layers=6, heads=8, kv_heads=8, intermediate=688, vocab_size=4096),  # ~5.8M
    "medium": ModelSize(hidden=512, layers=6, heads=8, kv_heads=8, intermediate=1376, vocab_size=8192),  # ~23M
    "large": ModelSize(
        hidden=2048, layers=16, heads=16, kv_heads=8, intermediate=5632, vocab_size=32000, max_positions=2048
    ),  # ~0.8B, for the GPU smoke benchmark
}


def build_model(
    size: str | ModelSize,
    vocab_size: int,
    arch: str = "llama",
    seed: int = 0,
    pad_token_id: int = 0,
    bos_token_id: int = 1,
    eos_token_id: int = 2,
    dtype: torch.dtype = torch.float32,
) -> PreTrainedModel:
    """A randomly initialised causal LM of the given size; ``vocab_size`` must match the tokenizer's."""
    spec = SIZES[size] if isinstance(size, str) else size
    if arch not in FAMILIES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    common: dict[str, Any] = dict(
        vocab_size=vocab_size, pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id
    )
    config = FAMILIES[arch](spec, common)
    torch.manual_seed(seed)
    model: PreTrainedModel = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.to(dtype)  # type: ignore[call-arg,arg-type]
    return model


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
