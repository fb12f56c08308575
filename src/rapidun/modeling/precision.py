"""How a model is loaded: its floating-point type and optional 4-bit quantisation (``--model-dtype``,
``--load-in-4bit`` on every command that loads a model).

The flag is ``--model-dtype``, not ``--dtype``: ``rapidun influence --dtype`` already names the storage type of the
gradient cache (fp16 / fp32 / int8) and is kept as it is, so every command uses the one name ``--model-dtype``.

``auto``: fp32 for a size name (a fresh model; today's results stay as they are); for a checkpoint, the type it
was saved in when this device computes in it (bf16 on a CPU or a bf16-capable GPU; fp16 only on a GPU), else fp32.
An explicit ``bf16`` on a GPU without bf16 support, or ``fp16`` on a CPU, is refused with one line.
LoRA weights stay float32 whatever the base type (PEFT casts adapters up; the layer casts its input to the
adapter's type and the result back), which is the autocast of mixed-precision LoRA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rapidun.errors import RapidunError
from rapidun.settings import setting

DTYPE_CHOICES = ("auto", "bf16", "fp16", "fp32")
TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
STORED_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@dataclass(frozen=True)
class ModelSettings:
    """How the weights are held in memory (docs/method.md section 4)."""

    dtype: str = setting(
        "auto",
        "weight type: auto (fp32 for size names, the checkpoint's type otherwise), bf16, fp16 (GPU) or fp32",
        flag="model_dtype",
        choices=DTYPE_CHOICES,
    )
    load_in_4bit: bool = setting(False, "QLoRA: 4-bit NF4 base weights (needs bitsandbytes and a CUDA GPU)")


def _supported(dtype: torch.dtype, device: torch.device) -> bool:
    if device.type == "cuda":
        return dtype != torch.bfloat16 or torch.cuda.is_bf16_supported()
    return dtype != torch.float16  # CPU kernels of many ops lack fp16; bf16 and fp32 work


def resolve_dtype(name: str, device: str | torch.device, stored: Any = None) -> torch.dtype:
    """The torch dtype for ``--model-dtype name`` on ``device``; ``stored`` is a checkpoint's saved type (or None
    for a size name). Raises :class:`RapidunError` for a type the device cannot compute in."""
    if name not in DTYPE_CHOICES:
        raise RapidunError(f"--model-dtype must be one of {', '.join(DTYPE_CHOICES)}, got '{name}'")
    dev = torch.device(device)
    if name == "auto":
        candidate = STORED_DTYPES.get(str(stored).removeprefix("torch."))
        return candidate if candidate is not None and _supported(candidate, dev) else torch.float32
    dtype = TORCH_DTYPES[name]
    if not _supported(dtype, dev):
        fix = "use --model-dtype fp16 or fp32 on this GPU" if dev.type == "cuda" else "use bf16 or fp32 on a CPU"
        raise RapidunError(f"--model-dtype {name} is not supported on {dev}; {fix}")
    return dtype


def quantization_config(settings: ModelSettings, device: str | torch.device, compute: torch.dtype) -> Any:
    """A ``BitsAndBytesConfig`` for ``--load-in-4bit`` (None without it). Refused, before any weight is read,
    without bitsandbytes or a CUDA device."""
    if not settings.load_in_4bit:
        return None
    if torch.device(device).type != "cuda":
        raise RapidunError("--load-in-4bit needs a CUDA GPU (bitsandbytes 4-bit kernels); drop it on this machine")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise RapidunError("--load-in-4bit needs the bitsandbytes package; pip install bitsandbytes") from exc
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute if compute != torch.float32 else torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )


def stored_dtype(spec: str) -> Any:
    """The ``dtype`` / ``torch_dtype`` a local checkpoint's config.json records (None when unknown)."""
    import json
    from pathlib import Path

    path = Path(spec).expanduser() / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return config.get("dtype") or config.get("torch_dtype")
