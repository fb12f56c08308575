"""DDP through ``accelerator.prepare``: with shards of unequal size, and resuming a 1-process checkpoint in 2
processes, the result is the run of 1 process.

With a global batch of 1 on 2 processes, rank 1 holds no row at any step and must still join DDP's all-reduce
(it adds a zero); with a batch of 3 in micro-batches of 1, rank 0 runs two micro-batches and rank 1 one, so only
the last of each is synchronised (``rapidun.training.data_parallel``). A process that skipped the all-reduce would
hang the other (the timeout fails the test); one that synchronised twice or not at all would move the adapter
differently from the 1-process run.

The resumed run loads the checkpoint (parameters, AdamW moments, schedule position) in every process, before DDP
wraps the model; the optimiser moments are not broadcast by DDP, so a process that skipped the load would diverge.

Tolerance: per-step losses rel 1e-5, adapter rtol 1e-3 / atol 2e-5, as in test_two_processes.py (the measured
difference is float summation order: ~1e-7 relative on losses).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from mp_launch import assert_two_ranks, cli_env, forget_retain_rows, probe_reports, torchrun_two, write_jsonl
from safetensors.torch import load_file

from rapidun.cli.main import main

pytestmark = pytest.mark.multiproc


@pytest.mark.slow
@pytest.mark.parametrize(("batch", "micro"), [(1, 0), (3, 1)])
def test_unequal_shards_match_one_process(batch: int, micro: int, tmp_path: Path) -> None:
    forget, retain = forget_retain_rows(4, 8)
    f = write_jsonl(tmp_path / "forget.jsonl", forget)
    r = write_jsonl(tmp_path / "retain.jsonl", retain)
    args = ["-q", "unlearn", "--model", "nano", "--forget", str(f), "--retain", str(r), "--method", "graddiff"]
    args += ["--epochs", "1", "--batch-size", str(batch), "--micro-batch-size", str(micro), "--lr", "1e-3"]
    args += ["--lora-dropout", "0", "--checkpoint-every", "0", "--no-progress", "--max-length", "48"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    proc = torchrun_two([*args, "--out", str(tmp_path / "two")], tmp_path, tmp_path / "probe", timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_two_ranks(tmp_path / "probe")
    # the model and optimiser went through accelerator.prepare on both ranks: DDP, not a hand-written all-reduce
    assert all(
        p["prepared"] == ["DistributedDataParallel", "AcceleratedOptimizer"] for p in probe_reports(tmp_path / "probe")
    )
    one = json.loads((tmp_path / "one" / "run.json").read_text())
    two = json.loads((tmp_path / "two" / "run.json").read_text())
    assert two["steps"] == one["steps"] >= 4 and len(two["losses"]) == one["steps"]
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5)
    a = load_file(str(tmp_path / "one" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "two" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-3, atol=2e-5, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.slow
def test_one_process_checkpoint_resumed_by_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rapidun.unlearning import gradient_run

    forget, retain = forget_retain_rows(4, 8)
    f = write_jsonl(tmp_path / "forget.jsonl", forget)
    r = write_jsonl(tmp_path / "retain.jsonl", retain)
    args = ["-q", "unlearn", "--model", "nano", "--forget", str(f), "--retain", str(r), "--method", "graddiff"]
    args += ["--epochs", "2", "--batch-size", "2", "--lr", "1e-3", "--lora-dropout", "0", "--checkpoint-every", "2"]
    args += ["--no-progress", "--max-length", "48"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    real = gradient_run.make_loss_fn

    def interrupted(*a: Any, **k: Any) -> Any:
        fn = real(*a, **k)

        def loss_fn(ids: Any, step: int, forward: Any = None) -> Any:
            if step == 5:  # as a kill during step 6: the checkpoint after step 4 survives
                raise KeyboardInterrupt
            return fn(ids, step, forward)

        return loss_fn

    with monkeypatch.context() as m:
        m.setattr(gradient_run, "make_loss_fn", interrupted)
        assert main([*args, "--out", str(tmp_path / "two")]) == 130
    proc = torchrun_two([*args, "--out", str(tmp_path / "two")], tmp_path, tmp_path / "probe", timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_two_ranks(tmp_path / "probe")
    one = json.loads((tmp_path / "one" / "run.json").read_text())
    two = json.loads((tmp_path / "two" / "run.json").read_text())
    assert two["resumed_from_step"] == 4 and one["steps"] == two["steps"] > 6
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5)
    a = load_file(str(tmp_path / "one" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "two" / "adapter_model.safetensors"))
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-3, atol=2e-5, msg=lambda m, n=name: f"{n}: {m}")


def test_accelerate_gradient_accumulation_refused_before_the_model_loads(tmp_path: Path) -> None:
    """An accelerate set-up whose gradient accumulation would divide the loss again: exit 2, one line, no output."""
    forget, retain = forget_retain_rows(2, 2)
    f = write_jsonl(tmp_path / "forget.jsonl", forget)
    r = write_jsonl(tmp_path / "retain.jsonl", retain)
    args = ["-q", "unlearn", "--model", "nano", "--forget", str(f), "--retain", str(r), "--method", "graddiff"]
    env = cli_env()
    env["ACCELERATE_GRADIENT_ACCUMULATION_STEPS"] = "4"  # what an accelerate config file's setting becomes
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "rapidun"]
    proc = subprocess.run([*cmd, *args, "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    # one refusal per process; the two processes' stderr may interleave on one line, so count the message
    message = "rapidun unlearn: error: accelerate gradient_accumulation_steps 4 is not used by rapidun"
    assert proc.stderr.count(message) == 2 and "--micro-batch-size" in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything ran (the output directory is made later)
