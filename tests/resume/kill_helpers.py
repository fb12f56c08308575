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


TORCHRUN_2 = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "rapidun"]


def kill_after(
    args: list[str],
    cwd: Path,
    ready: Path | Callable[[], bool],
    timeout: float = 180.0,
    launcher: list[str] | None = None,
) -> None:
    """Run ``python -m rapidun ARGS`` (or ``launcher + ARGS``); as soon as ``ready`` (a file that must exist, or a
    predicate) holds, send SIGKILL (kill -9) to its process group. With torchrun that kills the launcher only (its
    workers run in sessions of their own), and the workers must then exit by themselves. Fails if the command ended
    on its own (it must really be interrupted)."""
    is_ready = ready.is_file if isinstance(ready, Path) else ready
    log = open(cwd / "killed.stderr", "w")  # noqa: SIM115  (closed below; a pipe could fill and block the child)
    cmd = [*(launcher or [sys.executable, "-m", "rapidun"]), *args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=cli_env(), stdout=log, stderr=log, start_new_session=True)
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
        workers = children(proc.pid)  # torchrun's workers live in sessions of their own
        os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait(timeout=30)
        # Workers must not outlive their launcher: they would go on writing checkpoints into --out while the
        # same command runs again (rapidun.pipeline.distributed.exit_with_launcher).
        deadline = time.monotonic() + 15
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = [w for w in workers if alive(w)]
    finally:
        if proc.poll() is None:  # a failed wait above: leave no process behind
            for w in children(proc.pid):
                os.kill(w, signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    for w in survivors:
        os.kill(w, signal.SIGKILL)
    assert rc == -signal.SIGKILL, f"expected death by SIGKILL, got rc {rc}"
    assert not survivors, f"worker processes {survivors} outlived their killed launcher"


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def checkpoint_step(run_dir: Path) -> int:
    """Step of the newest complete checkpoint in ``run_dir`` (also one caught mid-swap), 0 if none."""
    for name in ("checkpoint", ".checkpoint.old"):
        state = run_dir / name / "state.json"
        if state.is_file():
            return int(json.loads(state.read_text())["step"])
    return 0
