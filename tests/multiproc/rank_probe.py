"""Run ``python -m rapidun ARGS`` in this process and record the process group the command really ran in.

Launched by the multi-process tests as ``torchrun ... tests/multiproc/rank_probe.py train ...``. The probe wraps
``rapidun.pipeline.distributed.maybe_accelerator`` (the commands import it when they run): right after the command
gets its Accelerator, the probe notes the Accelerator's rank and size, the ``torch.distributed`` group's rank, size
and backend, the result of one real all-reduce (each rank adds rank + 1; with 2 members the sum is 3) and the
classes ``accelerator.prepare`` returned (``record_prepare``). After the command returns, each process writes
``$RAPIDUN_RANK_PROBE_DIR/probe_<pid>.json``. A launcher that silently starts one process, or processes that never
join one group, cannot produce two reports that agree on world 2 and sum 3.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any


def record_prepare(acc: Any, info: dict[str, Any]) -> None:
    """Note the class of everything the command hands to ``accelerator.prepare`` (e.g. the model comes back as
    ``DistributedDataParallel``), so a test can tell DDP from a loop that syncs gradients by itself."""
    original = acc.prepare
    info["prepared"] = []

    def prepare(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        info["prepared"].extend(type(o).__name__ for o in (out if isinstance(out, tuple) else (out,)))
        return out

    acc.prepare = prepare


def main() -> int:
    probe_dir = Path(os.environ["RAPIDUN_RANK_PROBE_DIR"])
    info: dict[str, Any] = {
        "pid": os.getpid(),
        "env_rank": os.environ.get("RANK"),
        "env_world_size": os.environ.get("WORLD_SIZE"),
        "torchelastic_run_id": os.environ.get("TORCHELASTIC_RUN_ID"),
        "initialized": False,
    }
    import rapidun.pipeline.distributed as distributed

    original = distributed.maybe_accelerator

    def probed(*args: Any, **kwargs: Any) -> Any:
        acc = original(*args, **kwargs)
        import torch
        import torch.distributed as dist

        if acc is not None and dist.is_available() and dist.is_initialized():
            t = torch.tensor([float(dist.get_rank() + 1)])
            dist.all_reduce(t)
            info.update(
                initialized=True,
                rank=dist.get_rank(),
                world_size=dist.get_world_size(),
                backend=dist.get_backend(),
                allreduce_sum=t.item(),
                accelerator_rank=acc.process_index,
                accelerator_processes=acc.num_processes,
            )
            record_prepare(acc, info)
        return acc

    distributed.maybe_accelerator = probed
    sys.argv = ["rapidun", *sys.argv[1:]]
    code: int | str | None = 0
    try:
        runpy.run_module("rapidun", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    info["exit_code"] = code
    probe_dir.mkdir(parents=True, exist_ok=True)
    (probe_dir / f"probe_{os.getpid()}.json").write_text(json.dumps(info))
    return int(code or 0) if not isinstance(code, str) else 1


if __name__ == "__main__":
    sys.exit(main())
