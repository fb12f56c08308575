"""Multi-process runs through Hugging Face ``accelerate`` (never a home-made launcher).

Launch with ``torchrun --standalone --nproc_per_node N -m rapidun ...`` (or ``accelerate launch``); each process
then builds an ``Accelerator`` (CPU/gloo when no GPU). A single plain process gets ``None`` and runs as usual.
"""

from __future__ import annotations

import os
from typing import Any


def maybe_accelerator() -> Any:
    """An ``accelerate.Accelerator`` when launched with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())
