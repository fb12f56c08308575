"""End to end, as a user runs it: `rapidun demo --quick`, and `rapidun study` killed mid-grid then resumed."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.srcs.append(dict(attrs).get("src") or "")


def _rapidun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rapidun", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900
    )


def test_quick_demo_end_to_end(tmp_path: Path):
    proc = _rapidun("demo", "--quick", "--out", "demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "demo"
    assert proc.stdout.rstrip().splitlines()[-1] == f"report:  {(out / 'report.html').resolve()}"
    results = json.loads((out / "results.json").read_text())
    methods = {r["method"] for r in results["runs"]}
    assert methods == {"backdoored", "retrain", "rapidun", "ga", "uniform", "self_only", "loreun", "fisher_ssd"}
    for run in results["runs"]:
        for key in ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl"):
            assert key in run["metrics"]
        t = run["timings"]
        # the cost of unlearning is its three stages; evaluation time is reported apart and never counted in it
        assert t["total_s"] == pytest.approx(t["influence_s"] + t["weights_s"] + t["training_s"])
        assert t["evaluation_s"] > 0, run["method"]  # every run was evaluated and its time recorded
    rapidun_run = next(r for r in results["runs"] if r["method"] == "rapidun")
    assert rapidun_run["timings"]["influence_s"] > 0 and rapidun_run["speedup_vs_retrain"] > 0
    assert results["header"]["seeds"] == [42] and results["header"]["torch"]
    # The report opens in a browser: every image is an embedded, decodable, non-trivial PNG.
    parser = _Images()
    parser.feed((out / "report.html").read_text())
    assert len(parser.srcs) >= 4
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    md = (out / "report.md").read_text()
    for line in md.splitlines():
        if line.startswith("!["):
            target = out / line.split("(", 1)[1].rstrip(")")
            assert target.is_file() and target.stat().st_size > 1000
    # Running it again reuses every finished stage and prints the same table.
    again = _rapidun("demo", "--quick", "--out", "demo", cwd=tmp_path)
    assert again.returncode == 0
    table = lambda s: [ln for ln in s.splitlines() if ln.startswith(("rapidun ", "ga ", "retrain "))]  # noqa: E731
    assert table(again.stdout) == table(proc.stdout)


def _mini_study(path: Path) -> Path:
    cfg = {
        "name": "mini",
        "model": "nano",
        "datasets": [
            {
                "name": "toy",
                "source": "synthetic",
                "n_rows": 300,
                "poison_rate": 0.2,
                "seed": 3,
                "n_val": 20,
                "n_test": 20,
                "n_forget": 8,
            }
        ],
        "backdoor": {"epochs": 2, "batch_size": 16, "lr": 6e-3, "max_length": 96, "checkpoint_every": 5},
        "retrain": False,
        "methods": ["uniform", "ga"],
        "seeds": [1, 2],
        "unlearn": {"lr": 1e-3, "max_length": 96, "epochs": 1, "checkpoint_every": 5},
        "evaluation": {"max_new_tokens": 12, "max_eval": 20, "batch_size": 32},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _metrics(out: Path) -> list[tuple]:
    runs = json.loads((out / "results.json").read_text())["runs"]
    keys = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")
    return sorted((r["method"], r["seed"], *(round(r["metrics"][k], 6) for k in keys)) for r in runs)


def test_study_killed_mid_grid_resumes_to_the_same_table(tmp_path: Path):
    cfg = _mini_study(tmp_path / "mini.yaml")
    whole = _rapidun("study", str(cfg), "--out", "whole", "--no-report", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]

    proc = subprocess.Popen(
        [sys.executable, "-m", "rapidun", "study", str(cfg), "--out", "killed", "--no-report"],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cells = tmp_path / "killed" / "toy" / "cells"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if len(list(cells.glob("*/seed*/cell.json"))) >= 1:  # mid-grid: some cells done, others not
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the study finished before it could be killed; make the grid longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "results.json").exists()
    resumed = _rapidun("study", str(cfg), "--out", "killed", "--no-report", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _metrics(tmp_path / "killed") == _metrics(tmp_path / "whole")


@pytest.mark.slow
def test_a_diverged_cell_is_recorded_and_the_grid_goes_on(tmp_path: Path):
    cfg = yaml.safe_load(_mini_study(tmp_path / "mini.yaml").read_text())
    cfg["methods"], cfg["seeds"] = ["ga", "uniform"], [1]
    # GA's ascent loss leaves the tiny bound within a few steps; uniform's stays inside it
    cfg["sweeps"] = [{"method": "ga", "label": "bounded", "unlearn": {"max_abs_loss": 3.0, "lr": 0.05}}]
    path = tmp_path / "diverge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = _rapidun("study", str(path), "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = {(r["method"], r["label"]): r for r in json.loads((tmp_path / "out" / "results.json").read_text())["runs"]}
    diverged = runs[("ga", "bounded")]
    assert diverged["diverged"]["step"] >= 1 and "diverged at step" in diverged["diverged"]["message"]
    assert diverged["metrics"]["clean_ppl"] is not None  # the last good adapter was evaluated
    assert "diverged" not in runs[("uniform", "")]
    assert "(diverged at step" in (tmp_path / "out" / "report.md").read_text()
