"""Helpers of the architecture tests: tiny models of every supported family (hidden 64, 2 layers), built offline from transformers config classes."""

from __future__ import annotations

from typing import Any

import torch

from rapidun.modeling.factory import build_model

# The projection layers each family's ``--targets auto`` must find, written from the transformers model code
# (attention first, then the MLP), not computed by the code under test.
EXPECTED_TARGETS: dict[str, tuple[set[str], set[str]]] = {  # family -> (attention names, MLP names)
    "llama": ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"gate_proj", "up_proj", "down_proj"}),
    "mistral": ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"gate_proj", "up_proj", "down_proj"}),
    "qwen2": ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"gate_proj", "up_proj", "down_proj"}),
    "gemma": ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"gate_proj", "up_proj", "down_proj"}),
    "phi": ({"q_proj", "k_proj", "v_proj", "dense"}, {"fc1", "fc2"}),
    "phi3": ({"qkv_proj", "o_proj"}, {"gate_up_proj", "down_proj"}),
    "gpt2": ({"c_attn", "c_proj"}, {"c_fc", "c_proj"}),
    "gpt_neox": ({"query_key_value", "dense"}, {"dense_h_to_4h", "dense_4h_to_h"}),
    "opt": ({"q_proj", "k_proj", "v_proj", "out_proj"}, {"fc1", "fc2"}),
    "falcon": ({"query_key_value", "dense"}, {"dense_h_to_4h", "dense_4h_to_h"}),
    # Routed experts are 3-D parameters (excluded, see rapidun.modeling.targets); the shared expert is the MLP.
    "qwen2_moe": ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"gate_proj", "up_proj", "down_proj"}),
}
FAMILIES = tuple(EXPECTED_TARGETS)


def tiny(arch: str, vocab_size: int, pad_token_id: int = 0, dtype: torch.dtype = torch.float32) -> Any:
    """A 2-layer, hidden-64 model of ``arch`` in eval mode (no dropout), seeded."""
    model = build_model("nano", vocab_size, arch=arch, seed=0, pad_token_id=pad_token_id, dtype=dtype)
    return model.eval()
