"""Start a ``rapidun`` command as a real process, SIGKILL it once a checkpoint is on disk, and compare artifacts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", TQDM_DISABLE="1", PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    env.pop("WORLD_SIZE", None)
    return env


def kill_after(args: list[str], cwd: Path, ready: Path | Callable[[], bool], timeout: float = 180.0) -> None:
    """Run ``python -m rapidun ARGS``; as soon as ``ready`` (a file that must exist, or a predicate) holds, send
    SIGKILL (kill -9). Fails if the command ended on its own (it must really be interrupted)."""
    is_ready = ready.is_file if isinstance(ready, Path) else ready
    log = open(cwd / "killed.stderr", "w")  # noqa: SIM115  (closed below; a pipe could fill and block the child)
    proc = subprocess.Popen([sys.executable, "-m", "rapidun", *args], cwd=cwd, env=cli_env(), stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    try:
        while not is_ready():
            if proc.poll() is not None:
                raise AssertionError(
                    f"the command ended (rc {proc.returncode}) before {ready} held: "
                    f"{(cwd / 'killed.stderr').read_text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{ready} did not hold after {timeout:.0f} s")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert rc == -signal.SIGKILL, f"expected death by SIGKILL, got rc {rc}"


def checkpoint_step(run_dir: Path) -> int:
    """Step of the newest complete checkpoint in ``run_dir`` (also one caught mid-swap), 0 if none."""
    for name in ("checkpoint", ".checkpoint.old"):
        state = run_dir / name / "state.json"
        if state.is_file():
            return int(json.loads(state.read_text())["step"])
    return 0
