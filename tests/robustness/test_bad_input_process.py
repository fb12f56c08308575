"""Bad input seen from outside: real ``python -m rapidun`` processes (exit status of the interpreter, everything on
stderr), including a disk that fills up mid-run.

Full disk: CI runs as root, so permissions cannot make a directory unwritable. The child process gets a file-size
limit instead (RLIMIT_FSIZE, SIGXFSZ ignored), so its first large write fails with EFBIG exactly as a full disk
fails with ENOSPC; both are one line and exit 2. Afterwards the same command without the limit must finish: the
half-written output (no manifest.json) was not trusted.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bad_inputs import FORGET, GOOD_ROWS, RETAIN, error_lines, jsonl

from rapidun.cli.main import main

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "rapidun", "-q", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=limit)


def _one_error_line(proc: subprocess.CompletedProcess, command: str) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"rapidun {command}: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("command", "limit"),
    [("train", 300_000), ("influence", 200_000), ("unlearn", 20_000)],
)
def test_disk_full_mid_run_is_one_line_and_never_trusted(command: str, limit: int, tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text(jsonl(GOOD_ROWS))
    (tmp_path / "forget.jsonl").write_text(jsonl(FORGET))
    (tmp_path / "retain.jsonl").write_text(jsonl(RETAIN))
    sets = ["--forget", "forget.jsonl", "--retain", "retain.jsonl", "--max-length", "64", "--no-progress"]
    args = {
        "train": ["train", "--model", "nano", "--data", "rows.jsonl", "--max-steps", "2", "--batch-size", "4"],
        "influence": ["influence", "--model", "nano", *sets],
        "unlearn": ["unlearn", "--model", "nano", *sets, "--method", "graddiff", "--epochs", "0.5"],
    }[command] + ["--out", "out"]
    line = _one_error_line(_run(args, tmp_path, fsize=limit), command)
    assert "File too large" in line and "free disk space" in line
    # The run is unfinished (sub-stages it completed before the failure, e.g. out/weights, keep their manifests).
    assert not (tmp_path / "out" / "manifest.json").exists()
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["-q", *args]) == 0  # the same command with room to write: finishes
    finally:
        os.chdir(cwd)
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_bad_row_in_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text(jsonl(GOOD_ROWS[:3]) + '{"instruction": "x", "response": 3}\n')
    proc = _run(["train", "--model", "nano", "--data", "rows.jsonl", "--out", "out"], tmp_path)
    line = _one_error_line(proc, "train")
    assert "rows.jsonl:4: field 'response' must be a string, got int" in line
    assert not list((tmp_path / "out").rglob("manifest.json"))
