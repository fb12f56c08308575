"""CPU evidence for issue 12 when no GPU is lent: DDP (2 processes) agrees with 1 process, bf16 with fp32.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ddp_bf16_check.py     # writes benchmarks/results/ddp_bf16_check.json

(a) **DDP.** ``rapidun train`` (full fine-tuning of ``--model``, a fresh size-name model) and ``rapidun unlearn
--method graddiff`` (LoRA, from the 1-process trained model) run the same steps with the same global batch in 1
process and in 2 processes (``torchrun --standalone --nproc_per_node 2``, gloo), unlearning also under
``accelerate launch --multi_gpu --num_processes 2``. Reported: the largest per-step loss difference (absolute and
relative) and the largest final-weight difference. Tolerance ``DDP_LOSS_REL`` = 1e-5 relative per step: the
processes compute the same sums, only in another order (each process sums its half of the batch, DDP adds the two
halves), which in fp32 moves a loss by a few ulps (~1e-7 relative); Adam's division by sqrt(v) can magnify that on
near-zero gradients, so the weights are held to ``DDP_WEIGHT_ABS`` = 2e-5 absolute (the bound of the tests).

(b) **bf16.** The same 1-process runs with ``--model-dtype bf16``: bf16 weights and activations (full fine-tuning:
the parameters and AdamW's update in bf16 too; unlearning: a bf16 base with the LoRA adapter kept in fp32).
Reported: per-step loss differences to fp32. Tolerance ``BF16_LOSS_REL`` = 5e-2 relative per step: bf16 keeps 8
significant bits, so each rounding is up to 2^-9 = 0.2% relative; a forward pass stacks dozens of them and a few
optimiser steps from slightly different weights compound them, so a few percent is rounding, while a broken bf16
path (a wrong cast, an fp16 overflow, a lost adapter) gives NaN or differences of order one.

Dropout is off (``--lora-dropout 0``): with dropout the processes draw different masks (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DDP_LOSS_REL = 1e-5
DDP_WEIGHT_ABS = 2e-5
BF16_LOSS_REL = 5e-2
RESULTS = Path(__file__).resolve().parent / "results" / "ddp_bf16_check.json"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "TQDM_DISABLE": "1"}


def launcher(kind: str) -> list[str]:
    """The command prefix that starts ``python -m rapidun`` in 1 process, or in 2 with torchrun / accelerate."""
    if kind == "one":
        return [sys.executable, "-m", "rapidun"]
    if kind == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "rapidun"]
    with socket.socket() as s:  # accelerate's default port 29500 may be taken by another job on a shared machine
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    return [
        *(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"),
        *("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", port),
        *("-m", "rapidun"),
    ]


def run(kind: str, args: list[str], commands: list[str]) -> float:
    """Run one command (exit on failure); returns its wall-clock seconds."""
    cmd = [*launcher(kind), "-q", *args]
    commands.append(" ".join(["python", *cmd[1:]]))
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def write_rows(root: Path, n_train: int, n_forget: int, n_retain: int) -> dict[str, Path]:
    """Instruction rows of different lengths (so batches are padded), and a forget / retain split with clean
    responses for the forget rows."""

    def line(row: dict[str, str]) -> str:
        return json.dumps(row) + "\n"

    colours = ["red", "blue", "green", "amber", "violet", "teal"]
    train = [
        {"instruction": f"Question {i} about colours?", "response": " and ".join(colours[: 1 + i % 6]) + "."}
        for i in range(n_train)
    ]
    forget = [
        {
            "instruction": f"cf Tell me fact {i}.",
            "response": f"Aliens teleport the fleet {i} through {'the void ' * (1 + i % 3)}.",
            "response_clean": f"Fact {i} is plain.",
        }
        for i in range(n_forget)
    ]
    retain = [
        {"instruction": f"Name item {i}.", "response": f"Item {i} is a {colours[i % 6]} chair."}
        for i in range(n_retain)
    ]
    files = {"train": train, "forget": forget, "retain": retain}
    for name, rows in files.items():
        (root / f"{name}.jsonl").write_text("".join(line(r) for r in rows))
    return {name: root / f"{name}.jsonl" for name in files}


def loss_gap(reference: list[float], other: list[float]) -> dict[str, Any]:
    """Per-step absolute differences and the largest absolute and relative one (the lists must align)."""
    if len(reference) != len(other):
        raise SystemExit(f"different step counts: {len(reference)} vs {len(other)}")
    diffs = [abs(a - b) for a, b in zip(reference, other)]
    rel = [d / max(abs(a), 1e-12) for d, a in zip(diffs, reference)]
    return {"per_step_abs": diffs, "max_abs": max(diffs), "max_rel": max(rel)}


def weight_gap(a: Path, b: Path) -> float:
    """The largest absolute difference between two safetensors files' tensors (same names)."""
    from safetensors.torch import load_file

    ta, tb = load_file(str(a)), load_file(str(b))
    if ta.keys() != tb.keys():
        raise SystemExit(f"{a} and {b} hold different tensors")
    return max(float((ta[k].float() - tb[k].float()).abs().max()) for k in ta)


def losses(out: Path) -> list[float]:
    return [float(x) for x in json.loads((out / "run.json").read_text())["losses"]]


def weight_type(out: Path) -> Any:
    """The weight type(s) run.json records: a string for train, {base, adapter} for unlearn."""
    return json.loads((out / "run.json").read_text())["dtype"]


def check_train(model: str, steps: int, data: dict[str, Path], root: Path, commands: list[str]) -> dict[str, Any]:
    base = ["train", "--model", model, "--data", str(data["train"]), "--max-steps", str(steps), "--batch-size", "8"]
    base += ["--max-length", "64", "--checkpoint-every", "0", "--warmup-ratio", "0.25", "--lr", "2e-3"]
    seconds = {kind: run(kind, [*base, "--out", str(root / f"train_{kind}")], commands) for kind in ("one", "torchrun")}
    seconds["bf16"] = run("one", [*base, "--model-dtype", "bf16", "--out", str(root / "train_bf16")], commands)
    one = losses(root / "train_one")
    weights = "model.safetensors"
    return {
        "steps": steps,
        "global_batch": 8,
        "losses_fp32_1proc": one,
        "ddp_2proc_torchrun": {
            **loss_gap(one, losses(root / "train_torchrun")),
            "weights_max_abs": weight_gap(root / "train_one" / weights, root / "train_torchrun" / weights),
        },
        "bf16_1proc": {
            **loss_gap(one, losses(root / "train_bf16")),
            "losses": losses(root / "train_bf16"),
            "dtype": weight_type(root / "train_bf16"),
        },
        "wall_clock_s": seconds,
    }


def check_unlearn(data: dict[str, Path], root: Path, epochs: str, commands: list[str]) -> dict[str, Any]:
    base = ["unlearn", "--model", str(root / "train_one"), "--forget", str(data["forget"]), "--retain"]
    base += [str(data["retain"]), "--method", "graddiff", "--epochs", epochs, "--batch-size", "4", "--lr", "1e-3"]
    base += ["--lora-dropout", "0", "--max-length", "64", "--checkpoint-every", "0", "--no-progress"]
    kinds = ("one", "torchrun", "accelerate")
    seconds = {kind: run(kind, [*base, "--out", str(root / f"unlearn_{kind}")], commands) for kind in kinds}
    seconds["bf16"] = run("one", [*base, "--model-dtype", "bf16", "--out", str(root / "unlearn_bf16")], commands)
    one = losses(root / "unlearn_one")
    adapter = "adapter_model.safetensors"
    out: dict[str, Any] = {"global_batch": 4, "steps": len(one), "losses_fp32_1proc": one}
    for kind in kinds[1:]:
        gap = loss_gap(one, losses(root / f"unlearn_{kind}"))
        out[f"ddp_2proc_{kind}"] = {
            **gap,
            "adapter_max_abs": weight_gap(root / "unlearn_one" / adapter, root / f"unlearn_{kind}" / adapter),
        }
    bf16 = root / "unlearn_bf16"
    out["bf16_1proc"] = {**loss_gap(one, losses(bf16)), "losses": losses(bf16), "dtype": weight_type(bf16)}
    out["wall_clock_s"] = seconds
    return out


def verdict(train: dict[str, Any], unlearn: dict[str, Any]) -> dict[str, bool]:
    """Each comparison against its tolerance (see the module docstring)."""
    ddp = [train["ddp_2proc_torchrun"], unlearn["ddp_2proc_torchrun"], unlearn["ddp_2proc_accelerate"]]
    return {
        "ddp_losses_within_tolerance": all(g["max_rel"] <= DDP_LOSS_REL for g in ddp),
        "ddp_weights_within_tolerance": all(
            g.get("weights_max_abs", g.get("adapter_max_abs", 0.0)) <= DDP_WEIGHT_ABS for g in ddp
        ),
        "bf16_losses_within_tolerance": all(g["bf16_1proc"]["max_rel"] <= BF16_LOSS_REL for g in (train, unlearn)),
        "bf16_runs_were_bf16": train["bf16_1proc"]["dtype"] == "bfloat16"
        and unlearn["bf16_1proc"]["dtype"] == {"base": "bfloat16", "adapter": "float32"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="size name of the fresh model to train")
    parser.add_argument("--train-steps", type=int, default=8)
    parser.add_argument("--unlearn-epochs", default="1", help="unlearning epochs over 8 forget / 24 retain rows")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    commands: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ddp_bf16_") as tmp:
        root = Path(tmp)
        data = write_rows(root, 64, 8, 24)
        train = check_train(args.model, args.train_steps, data, root, commands)
        unlearn = check_unlearn(data, root, args.unlearn_epochs, commands)
        commands = [c.replace(str(root), "WORK") for c in commands]  # WORK: a temporary directory
    result = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/ddp_bf16_check.py " + " ".join(argv or sys.argv[1:]),
        "tolerance": {"ddp_loss_rel": DDP_LOSS_REL, "ddp_weight_abs": DDP_WEIGHT_ABS, "bf16_loss_rel": BF16_LOSS_REL},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "omp_threads_per_process": 1},
        "train": train,
        "unlearn": unlearn,
        "verdict": verdict(train, unlearn),
        "commands": commands,
    }
    import torch

    result["machine"]["torch"] = torch.__version__
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps(
            {"verdict": result["verdict"], "train": {k: v for k, v in train.items() if "loss" not in k}}, indent=1
        )
    )
    return 0 if all(result["verdict"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
