"""Which layers LoRA adapts and influence tracks: the projection layers of every attention and MLP block.

One answer for both stages (docs/method.md sections 2 and 4). A *projection* is an ``nn.Linear`` or a GPT-2 style
``Conv1D`` (``transformers.pytorch_utils.Conv1D``: ``out = x W + b`` with ``W`` of shape (d_in, d_out), the
transpose of ``nn.Linear``'s). Fused projections (``c_attn``, ``query_key_value``, ``qkv_proj``, ``Wqkv``,
``gate_up_proj``) are ordinary projections with a wider output and need nothing special.

``auto`` keeps every projection except the output head (the module ``get_output_embeddings`` returns, or one named
``lm_head`` / ``embed_out`` / ``output``), embeddings (never a projection), LoRA's own A/B matrices and MoE routers
(a ``gate`` / ``router`` / ``shared_expert_gate`` whose output is one logit per expert, or a scalar gate). For a
Llama this is exactly q, k, v, o, gate, up, down -- the names hard-coded before, so old results do not change.

MoE experts: in transformers >= 5 the routed experts of Mixtral / Qwen2-MoE are 3-D parameters of one module, not
modules, so neither PEFT ``target_modules`` nor the per-layer influence hooks see them; each expert also receives
only the tokens routed to it, which mixes samples in one (tokens, d) input and breaks the per-sample layout the
influence hooks rely on. They are therefore excluded from both; the attention and any shared (dense) expert MLP,
which see every token, are covered.
"""

from __future__ import annotations

import logging

from torch import nn
from transformers.pytorch_utils import Conv1D

from rapidun.errors import RapidunError

log = logging.getLogger(__name__)

AUTO = "auto"
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
HEAD_NAMES = ("lm_head", "embed_out", "output")
ROUTER_NAMES = ("gate", "router", "shared_expert_gate")
PROJECTION_TYPES = (nn.Linear, Conv1D)


def leaf(name: str) -> str:
    """The last component of a module path, ignoring PEFT's ``base_layer`` wrapper."""
    return name.removesuffix(".base_layer").split(".")[-1]


def is_lora_part(name: str) -> bool:
    return any(p in ("lora_A", "lora_B") for p in name.split("."))


def layer_shape(module: nn.Module) -> tuple[int, int]:
    """(d_out, d_in) of a projection, whichever way its weight is stored."""
    if isinstance(module, Conv1D):
        d_in, d_out = module.weight.shape
        return int(d_out), int(d_in)
    return int(module.out_features), int(module.in_features)  # type: ignore[arg-type]


def _expert_count(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    for key in ("num_local_experts", "num_experts", "n_routed_experts"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _is_router(name: str, module: nn.Module, experts: int | None) -> bool:
    d_out, _ = layer_shape(module)
    return leaf(name) in ROUTER_NAMES and (d_out == 1 or experts is None or d_out == experts)


def _head_ids(model: nn.Module) -> set[int]:
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    return {id(head)} if head is not None else set()


def projection_layers(model: nn.Module, *, keep_routers: bool = False) -> list[tuple[str, nn.Module]]:
    """Every projection of the blocks, in ``named_modules`` order (a PEFT model yields its base layers).

    ``keep_routers`` also keeps MoE routers (influence's ``all-linear``)."""
    heads = _head_ids(model)
    experts = _expert_count(model)
    out: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if not isinstance(module, PROJECTION_TYPES) or is_lora_part(name):
            continue
        if id(module) in heads or leaf(name) in HEAD_NAMES:
            continue
        if not keep_routers and _is_router(name, module, experts):
            continue
        out.append((name, module))
    return out


def candidate_names(model: nn.Module) -> list[str]:
    """The distinct leaf names of every linear / Conv1D module (what ``--targets`` may name)."""
    names = [leaf(n) for n, m in model.named_modules() if isinstance(m, PROJECTION_TYPES) and not is_lora_part(n)]
    return list(dict.fromkeys(names))


def _module_kinds(model: nn.Module) -> str:
    kinds = list(dict.fromkeys(type(m).__name__ for m in model.modules() if not list(m.children())))
    return ", ".join(kinds[:8]) or "none"


def resolve_targets(model: nn.Module, requested: tuple[str, ...] | list[str] = (AUTO,)) -> tuple[str, ...]:
    """The leaf module names to adapt / track: ``auto`` (or nothing) discovers them, explicit names are checked.

    Raises :class:`RapidunError` listing the model's real candidate names when a name matches nothing, or naming
    the module types found when the model has no projection layer at all."""
    names = tuple(requested) or (AUTO,)
    if names == (AUTO,):
        found = tuple(dict.fromkeys(leaf(n) for n, _ in projection_layers(model)))
        if not found:
            raise RapidunError(
                "--targets auto found no projection layer (nn.Linear or Conv1D) in the attention / MLP blocks of "
                f"this model (its leaf modules: {_module_kinds(model)}); pass --targets with module names"
            )
        return found
    if AUTO in names:
        raise RapidunError("--targets auto cannot be combined with module names; give one or the other")
    candidates = candidate_names(model)
    missing = [n for n in names if n not in candidates]
    if missing:
        raise RapidunError(
            f"--targets {','.join(missing)} match no layer of this model; its candidates are: "
            f"{', '.join(candidates[:16]) or 'none'} (or --targets auto)"
        )
    return names


def log_targets(model: nn.Module, targets: tuple[str, ...], what: str) -> None:
    """Print the resolved list once (info)."""
    count = sum(1 for n, _ in projection_layers(model, keep_routers=True) if leaf(n) in targets)
    log.info("%s targets (%d layers): %s", what, count, ",".join(targets))
