"""``torchrun --nproc_per_node 2 -m rapidun trace`` shares the training rows' caching between two processes (the
influence stage's batch-aligned shards) and writes the very ranking of a single process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from trace_fixtures import Pack

from rapidun.cli import main as cli_main
from rapidun.data.rows import write_rows

pytestmark = pytest.mark.multiproc


@pytest.mark.skipif("trace" not in cli_main.COMMANDS, reason="'trace' is not in cli/main.py's COMMANDS yet")
def test_trace_two_processes_match_one(pack: Pack, tmp_path: Path) -> None:
    import json
    import os

    write_rows(tmp_path / "train.jsonl", pack.train)
    lines = [json.dumps({"instruction": r.instruction, "response": r.response}) for r in pack.reports]
    (tmp_path / "reports.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["-q", "trace", "--model", "nano", "--train", "train.jsonl", "--reports", "reports.jsonl", "--dim", "256"]
    args += ["--projector", "kronecker", "--batch-size", "4", "--k", "8", "--dtype", "fp32", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1", TOKENIZERS_PARALLELISM="false")
    one = subprocess.run([sys.executable, "-m", "rapidun", *args, "--out", "one"], cwd=tmp_path, env=env)
    assert one.returncode == 0
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "rapidun"]
    two = subprocess.run([*launcher, *args, "--out", "two"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("trace (influence") == 1  # only rank 0 reports
    assert json.loads((tmp_path / "two" / "cache" / "train" / "manifest.json").read_text())["processes"] == 2
    assert (tmp_path / "two" / "ranking.jsonl").read_bytes() == (tmp_path / "one" / "ranking.jsonl").read_bytes()
