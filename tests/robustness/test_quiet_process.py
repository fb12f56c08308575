"""Quiet seen from outside: a real ``python -m rapidun`` whose stderr goes to a file (as in a redirected log)
prints no progress-bar frames; ``-v`` prints no matplotlib font lines; no third-party FutureWarning appears."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import PROGRESS, jsonl
from safetensors.numpy import save_file

ROWS = [{"instruction": f"Question {i} about colours?", "response": f"Answer {i}: red."} for i in range(12)]


def _run(args: list[str], cwd: Path) -> str:
    """Run with stderr redirected to a file (not a terminal, not a pipe that a test runner might fake)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    env |= {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}  # show every warning that is not filtered
    log = cwd / f"stderr-{len(list(cwd.glob('stderr-*')))}.txt"
    with log.open("w") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "rapidun", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
    text = log.read_text()
    assert proc.returncode == 0, text[-2000:]
    return text


@pytest.fixture(scope="module")
def rows_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("quiet")
    (d / "rows.jsonl").write_text(jsonl(ROWS))
    return d


def test_redirected_stderr_gets_no_progress_bar(rows_dir: Path) -> None:
    base = ["train", "--model", "nano", "--data", "rows.jsonl", "--max-steps", "3", "--batch-size", "4"]
    forced = _run([*base, "--progress", "--out", "forced"], rows_dir)
    assert PROGRESS.search(forced), "--progress must force the bar (else this test could not fail)"
    plain = _run([*base, "--out", "plain"], rows_dir)
    assert not PROGRESS.search(plain) and "\r" not in plain, plain[-2000:]
    assert "FutureWarning" not in plain, plain[-2000:]


def test_verbose_prints_no_font_lines(rows_dir: Path) -> None:
    infl = rows_dir / "infl"
    infl.mkdir()
    rng = np.random.default_rng(0)
    mats = {
        k: rng.normal(size=shape).astype(np.float32)
        for k, shape in {"FF": (4, 4), "FR": (8, 4), "RF": (4, 8), "RR": (8, 8)}.items()
    }
    save_file(mats, str(infl / "scores.safetensors"))
    (infl / "manifest.json").write_text(json.dumps({"stage": "influence"}))
    err = _run(["-v", "weights", "--influence", "infl", "--out", "w"], rows_dir)
    assert (rows_dir / "w" / "weights_hist.png").is_file()  # a figure was drawn, so fonts were looked up
    assert "findfont" not in err and "font_manager" not in err, err[:2000]
    assert "FutureWarning" not in err
