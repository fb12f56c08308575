"""Multi-process runs through Hugging Face ``accelerate`` (never a home-made launcher).

Launch with ``torchrun --standalone --nproc_per_node N -m rapidun ...`` (or ``accelerate launch``); each process
then builds an ``Accelerator`` (CPU/gloo when no GPU; NCCL on GPUs); ``train`` and ``unlearn`` hand it their model and
optimiser (``accelerator.prepare``, DDP). A single plain process gets ``None`` and runs as usual.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def maybe_accelerator(for_training: bool = False) -> Any:
    """An ``accelerate.Accelerator`` when launched with several processes, else None. ``for_training``: the
    command hands its model to ``accelerator.prepare`` (``train``, ``unlearn``), so an accelerate set-up the loop
    cannot honour (FSDP, DeepSpeed, accelerate's gradient accumulation) is refused now, before any model loads."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import Accelerator

    from rapidun.training.data_parallel import check_data_parallel, ddp_kwargs

    if "TORCHELASTIC_RUN_ID" in os.environ:  # a torchrun / accelerate-launch worker (not e.g. srun or by hand)
        exit_with_launcher()
    # the DDP settings the training loop's synchronisation relies on (rapidun.training.data_parallel)
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp_kwargs()])
    if for_training:
        check_data_parallel(accelerator)
    return accelerator


def finish(accelerator: Any) -> None:
    """End a multi-process command on every rank together: wait until rank 0 has written the outputs, then destroy
    the process group. A rank that simply exits while the group is alive can abort in gloo's threads ("terminate
    called without an active exception"), and torchrun then stops rank 0, possibly mid-write."""
    if accelerator is None:
        return
    accelerator.wait_for_everyone()
    accelerator.end_training()


def exit_with_launcher(poll_s: float = 0.5) -> None:
    """End this worker as soon as the process that launched it is gone.

    torchrun starts each worker in its own session, so ``kill -9`` of torchrun (or of its process group) leaves
    the workers running: they keep training and writing checkpoints into ``--out`` while the user reruns the same
    command, and two runs then write one directory. A daemon thread notices the launcher's death (this process is
    re-parented) and exits at once, like the kill the user meant; the rerun resumes from the last checkpoint."""
    launcher = os.getppid()

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(poll_s)
        os._exit(137)  # no clean-up, exactly as if killed: the last complete checkpoint stays what it was

    threading.Thread(target=watch, name="rapidun-exit-with-launcher", daemon=True).start()
