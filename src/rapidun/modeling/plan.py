"""Predicted cost of each stage from a model's config alone (``rapidun plan``; docs/method.md section 4).

The model is built on the ``meta`` device (shapes, no weights), so a 8B config costs nothing to plan. Peak memory
of a stage = runtime (the Python process with torch and transformers loaded, measured in the planning process)
+ weights + what training keeps (gradients and AdamW's two moments, for every trained parameter) + activations
saved for the backward pass at ``batch_size x max_length`` tokens (an upper bound: real batches are padded only to
their longest row). Activations per token and decoder layer, counted from what a Llama-style block saves
(norm inputs and outputs, q/k/v, the attention output, gate/up/act/product of the MLP): ``10 h + 4 i`` elements;
the head saves the logits, their float copy and the log-softmax: ``3 V`` float32 per token.
Time = FLOPs / ``flops_per_s``: forward 2 N per token; a training step 6 N (forward, activation and weight
gradients); influence caching and LoRA unlearning 4 N (no weight gradient of the frozen base).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rapidun.errors import RapidunError
from rapidun.modeling.factory import ARCHITECTURES
from rapidun.modeling.precision import TORCH_DTYPES
from rapidun.settings import MAX_LENGTH, setting

BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}
MB = 1024 * 1024


@dataclass(frozen=True)
class StagePlan:
    stage: str
    peak_mb: float  # predicted peak resident memory (runtime included)
    weights_mb: float
    training_state_mb: float  # gradients + AdamW moments of the trained parameters
    activations_mb: float
    seconds: float  # at the stated throughput
    tokens: int  # tokens the stage processes


@dataclass(frozen=True)
class ModelPlan:
    model: str
    model_type: str
    parameters: int
    lora_parameters: int
    lora_targets: tuple[str, ...]
    dtype: str
    runtime_mb: float
    flops_per_s: float
    stages: tuple[StagePlan, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_config(spec: str, arch: str = "llama", vocab_size: int | None = None) -> Any:
    """A transformers config from a size name (+ ``arch``), a ``config.json`` file, a directory holding one, or a
    hub id (needs the network)."""
    from transformers import AutoConfig

    from rapidun.modeling.factory import SIZES
    from rapidun.modeling.families import FAMILIES

    if spec in SIZES:
        size = SIZES[spec]
        common = dict(vocab_size=vocab_size or size.vocab_size, pad_token_id=0, bos_token_id=1, eos_token_id=2)
        return FAMILIES[arch](size, common)
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json":
        if not path.is_file():
            raise RapidunError(f"--model {spec}: no config.json there; give a config.json, a model directory or a size")
        values = json.loads(path.read_text())
        if "model_type" not in values:
            raise RapidunError(f'--model {spec}: config.json has no model_type; add it (e.g. "llama")')
        return AutoConfig.for_model(**values)
    try:
        return AutoConfig.from_pretrained(spec)
    except (OSError, ValueError) as exc:
        raise RapidunError(f"--model {spec}: cannot read its config ({str(exc).splitlines()[0][:160]})") from exc


def meta_model(config: Any) -> Any:
    """The model of ``config`` on the meta device: every shape, no storage."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def lora_parameters(model: Any, targets: tuple[str, ...], rank: int) -> int:
    """r (d_in + d_out) per adapted projection."""
    from rapidun.modeling.targets import layer_shape, leaf, projection_layers

    return sum(rank * sum(layer_shape(m)) for n, m in projection_layers(model) if leaf(n) in targets)


def activation_elements_per_token(config: Any) -> tuple[int, int]:
    """(elements saved per token across the decoder layers in the model dtype, float32 elements of the head)."""
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "n_embd", 0))
    inner = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None)
    inner = int(inner or getattr(config, "ffn_dim", 0) or getattr(config, "ffn_hidden_size", 0) or 4 * hidden)
    layers = int(getattr(config, "num_hidden_layers", 0) or getattr(config, "n_layer", 0))
    return layers * (10 * hidden + 4 * inner), 3 * int(config.vocab_size)


@dataclass(frozen=True)
class PlanSettings:
    """The workload ``rapidun plan`` predicts for (the defaults are those of train / influence / unlearn)."""

    arch: str = setting("llama", "architecture of a size name", choices=ARCHITECTURES)
    batch_size: int = setting(16, "train and unlearn rows per step")
    influence_batch_size: int = setting(8, "rows per influence gradient batch")
    max_length: int = setting(MAX_LENGTH, "tokens per row (every row assumed this long: an upper bound)")
    train_rows: int = setting(2500, "rows of the training set")
    forget_rows: int = setting(40, "rows of the forget set")
    retain_rows: int = setting(120, "rows of the retain set")
    epochs: float = setting(3.0, "passes of training and unlearning")
    lora_r: int = setting(16, "LoRA rank")
    flops_per_s: float = setting(5e10, "sustained FLOP/s of the device (5e10: a few CPU cores; ~4e14: an H100 bf16)")


def _dtype_of(name: str, config: Any) -> torch.dtype:
    if name == "auto":
        stored = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or "")
        return {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(stored.removeprefix("torch."), torch.float32)
    return TORCH_DTYPES[name]


def plan_model(spec: str, settings: PlanSettings, dtype_name: str = "auto", runtime_mb: float = 0.0) -> ModelPlan:
    """Parameter count and per-stage predicted peak memory and time of ``spec`` (see the module docstring)."""
    from rapidun.modeling.targets import resolve_targets

    config = load_config(spec, settings.arch)
    model = meta_model(config)
    n_params = sum(p.numel() for p in model.parameters())
    targets = resolve_targets(model)
    n_lora = lora_parameters(model, targets, settings.lora_r)
    dtype = _dtype_of(dtype_name, config)
    weights = n_params * BYTES[dtype] / MB
    layer_elems, head_elems = activation_elements_per_token(config)
    per_token_mb = (layer_elems * BYTES[dtype] + head_elems * 4) / MB
    seq, s = settings.max_length, settings
    unlearn_tokens = int((s.forget_rows + s.retain_rows) * s.epochs * seq)
    stages = [  # (name, trained-state MB, rows per batch, tokens, FLOPs per parameter and token)
        ("train", 3 * weights, s.batch_size, int(s.train_rows * s.epochs * seq), 6),
        ("train_lora", 16 * n_lora / MB, s.batch_size, int(s.train_rows * s.epochs * seq), 4),
        ("influence", 0.0, s.influence_batch_size, (s.forget_rows + s.retain_rows) * seq, 4),
        ("unlearn", 16 * n_lora / MB, s.batch_size, unlearn_tokens, 4),
    ]
    out = []
    for name, state, rows, tokens, flops in stages:
        act = rows * seq * per_token_mb
        peak = runtime_mb + weights + state + act
        seconds = flops * n_params * tokens / s.flops_per_s
        out.append(StagePlan(name, round(peak, 1), round(weights, 1), round(state, 1), round(act, 1), seconds, tokens))
    return ModelPlan(
        spec,
        str(config.model_type),
        n_params,
        n_lora,
        targets,
        str(dtype).removeprefix("torch."),
        round(runtime_mb, 1),
        s.flops_per_s,
        tuple(out),
    )
