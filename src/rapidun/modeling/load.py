"""Load a causal LM and its tokenizer from a hub id, a local directory, or a size name, the same way everywhere.

Security: weights load with safetensors where the checkpoint has them (``torch.load`` inside transformers uses
``weights_only=True``); ``trust_remote_code`` is off unless the caller asks for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rapidun.errors import RapidunError
from rapidun.modeling.factory import SIZES, build_model
from rapidun.modeling.precision import ModelSettings, quantization_config, resolve_dtype, stored_dtype
from rapidun.modeling.resolve import check_adapter_dir, resolve_model_spec
from rapidun.modeling.tokenizer import train_tokenizer

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    model: Any  # transformers PreTrainedModel, possibly a peft PeftModel
    tokenizer: Any
    source: str  # what the user gave
    kind: str  # "size", "directory" or "hub"


def load_tokenizer(spec: str, trust_remote_code: bool = False, local_only: bool = False) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(spec, trust_remote_code=trust_remote_code, local_files_only=local_only)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def load_model(
    spec: str,
    *,
    corpus: Iterable[str] | None = None,
    arch: str = "llama",
    seed: int = 0,
    adapter: str | None = None,
    trust_remote_code: bool = False,
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device = "cpu",
    load_in_4bit: bool = False,
) -> LoadedModel:
    """Resolve ``spec``: a size name (``nano``, ``tiny``, ``small``, ``medium``, ``large``) builds a fresh model
    with a tokenizer trained on ``corpus``; a directory loads ``save_pretrained`` output; anything else is tried as
    a hub id. ``adapter`` is a PEFT adapter directory applied on top. What ``spec`` names is decided first
    (:func:`rapidun.modeling.resolve.resolve_model_spec`), so a bad one fails before any weights load. ``dtype`` is
    a torch dtype or a ``--model-dtype`` name (:func:`rapidun.modeling.precision.resolve_dtype`); ``load_in_4bit``
    quantises a checkpoint's weights with bitsandbytes (refused without it or without CUDA, before anything is
    read)."""
    kind, local_only = resolve_model_spec(spec)
    if adapter is not None:
        check_adapter_dir(adapter)
    quant = quantization_config(ModelSettings(load_in_4bit=load_in_4bit), device, torch.bfloat16)
    if isinstance(dtype, str):
        dtype = resolve_dtype(dtype, device, None if kind == "size" else stored_dtype(spec))
    if kind == "size":
        if quant is not None:
            raise RapidunError(f"--load-in-4bit quantises a checkpoint; --model {spec} builds a fresh model")
        if corpus is None:
            raise RapidunError(
                f"--model {spec} builds a new model and needs training text for its tokenizer; "
                "pass --data, or give a trained model directory"
            )
        tokenizer = train_tokenizer(corpus, SIZES[spec].vocab_size)
        model = build_model(
            spec,
            len(tokenizer),
            arch=arch,
            seed=seed,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            dtype=dtype,
        )
        loaded = LoadedModel(model, tokenizer, spec, "size")
    else:
        where = str(Path(spec).expanduser()) if kind == "directory" else spec
        loaded = _load_pretrained(where, kind, trust_remote_code, dtype, quant, local_only)
    if adapter is not None:
        loaded.model = _apply_adapter(loaded.model, adapter)
    if quant is None:  # a quantised model is placed on the GPU by bitsandbytes and cannot be moved
        loaded.model.to(device)
    log.info("model %s loaded as %s%s", spec, str(dtype).removeprefix("torch."), " (4-bit)" if quant else "")
    return loaded


def _load_pretrained(
    spec: str, kind: str, trust_remote_code: bool, dtype: torch.dtype, quant: Any, local_only: bool = False
) -> LoadedModel:
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM

    try:
        tokenizer = load_tokenizer(spec, trust_remote_code, local_only)
        extra: dict[str, Any] = {"quantization_config": quant, "device_map": {"": 0}} if quant is not None else {}
        model = AutoModelForCausalLM.from_pretrained(
            spec, dtype=dtype, trust_remote_code=trust_remote_code, local_files_only=local_only, **extra
        )
    except (OSError, ValueError, KeyError, SafetensorError) as exc:  # SafetensorError: a truncated weights file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = "directory" if kind == "directory" else "hub id"
        raise RapidunError(
            f"cannot load a causal LM from {where} '{spec}': {first[:200]}; check the path or id "
            "(a hub id needs network access; --trust-remote-code for custom architectures)"
        ) from exc
    return LoadedModel(model, tokenizer, spec, kind)


def _apply_adapter(model: Any, adapter: str) -> Any:
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, adapter)
    except (RuntimeError, ValueError, KeyError, OSError) as exc:  # RuntimeError: LoRA shapes of another base model
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        first = next((line for line in lines if "size mismatch" in line), lines[0])
        raise RapidunError(
            f"adapter '{adapter}' does not fit this model ({first[:200]}); pass the base --model the "
            "adapter was trained on"
        ) from exc


def model_fingerprint(model: torch.nn.Module) -> str:
    """A cheap, stable identity of a model's weights: its config plus a hash of a strided sample of every tensor.
    Used to refuse an influence cache built for another model."""
    h = hashlib.sha256()
    config = getattr(model, "config", None)
    if config is not None:
        cfg = {k: v for k, v in config.to_dict().items() if k not in {"_name_or_path", "transformers_version"}}
        h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    for name, p in sorted(model.state_dict().items()):
        flat = p.detach().reshape(-1)
        step = max(1, flat.numel() // 256)
        h.update(name.encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(flat[::step][:256].to(torch.float32).cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def save_model(model: Any, tokenizer: Any, out_dir: str | os.PathLike[str]) -> None:
    """``save_pretrained`` (safetensors) for model and tokenizer."""
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
