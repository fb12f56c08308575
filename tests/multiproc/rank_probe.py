"""Run ``python -m rapidun ARGS`` in this process, then record what its process group really was.

Launched by the multi-process tests as ``torchrun ... tests/multiproc/rank_probe.py train ...``. After the command
returns, each process writes ``$RAPIDUN_RANK_PROBE_DIR/probe_<pid>.json`` with its pid, the launcher's RANK and
WORLD_SIZE, and, when a process group exists, its rank/size from ``torch.distributed`` and the result of one real
all-reduce (each rank adds rank + 1; with 2 members the sum is 3). A launcher that silently starts one process, or
processes that never join one group, cannot produce two files that agree on world 2 and sum 3.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path


def main() -> int:
    probe_dir = Path(os.environ["RAPIDUN_RANK_PROBE_DIR"])
    sys.argv = ["rapidun", *sys.argv[1:]]
    code: int | str | None = 0
    try:
        runpy.run_module("rapidun", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    import torch
    import torch.distributed as dist

    info: dict[str, object] = {
        "pid": os.getpid(),
        "env_rank": os.environ.get("RANK"),
        "env_world_size": os.environ.get("WORLD_SIZE"),
        "torchelastic_run_id": os.environ.get("TORCHELASTIC_RUN_ID"),
        "exit_code": code,
        "initialized": dist.is_available() and dist.is_initialized(),
    }
    if info["initialized"]:
        rank = dist.get_rank()
        t = torch.tensor([float(rank + 1)])
        dist.all_reduce(t)
        info.update(rank=rank, world_size=dist.get_world_size(), backend=dist.get_backend(), allreduce_sum=t.item())
    probe_dir.mkdir(parents=True, exist_ok=True)
    (probe_dir / f"probe_{os.getpid()}.json").write_text(json.dumps(info))
    return int(code or 0) if not isinstance(code, str) else 1


if __name__ == "__main__":
    sys.exit(main())
