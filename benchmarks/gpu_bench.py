"""GPU benchmark (issue 12 item 7): one script, < 8 minutes on one H200, for the day a device is lent.

    python benchmarks/gpu_bench.py                      # large (~0.8B Llama) in bf16; a 2-process run on 2+ GPUs
    python benchmarks/gpu_bench.py --size tiny --dtype fp32 --unlearn-steps 4 --train-steps 2   # CPU dry run

Writes ``benchmarks/results/gpu_bench.json`` (after every stage, so a run cut short keeps what it measured). The
model is built from a config (random init; no weights can be downloaded here) with the size's full vocabulary, so
its shapes are exactly what ``rapidun plan --model SIZE`` plans for; every row is long enough to be cut at
``--max-length`` tokens, so the plan's every-row-is-max-length bound is the real workload (as in
``benchmarks/plan_check.py``). Stages, each on a fresh copy of the same model:
- floor: rows/s of a forward plus an activation-gradient backward (no weight gradients) over the forget + retain
  rows at the influence batch size (``gpu_smoke.floor_rate``, best of ``--reps``);
- influence: rows/s of gradient caching with the default projector (``rapidun influence``'s code) and its ratio to
  the floor (issue 12 asks >= 0.6 on a GPU);
- train: ``--train-steps`` full fine-tuning steps at batch ``--train-batch-size`` (the plan's ``train`` stage);
- unlearn_b1 / unlearn_b8: ``rapidun`` unlearning (LoRA r=16 on the auto targets) for ``--unlearn-steps`` optimiser
  steps at batch 1 and 8, reusing the influence scores: optimiser steps/s and rows/s of the training stage;
- memory: each stage's peak (CUDA: ``max_memory_allocated``; CPU: resident set) next to ``rapidun plan``'s
  prediction for the same settings (on CUDA the plan's runtime term, a CPU-side number, is left out);
- processes (``--processes N`` >= 2; default 2 when there are 2+ GPUs): the same influence and batch-8 unlearning
  as ``torchrun --standalone --nproc_per_node N -m rapidun ...`` commands on a saved copy of the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TQDM_DISABLE", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_smoke import floor_rate, sync  # noqa: E402
from plan_check import WORDS  # noqa: E402  (the same filler rows as the plan check)
from rapidun.costs import current_rss_mb  # noqa: E402
from rapidun.data.rows import Row, write_rows  # noqa: E402
from rapidun.data.tokenize import collate, encode_rows  # noqa: E402
from rapidun.modeling.factory import SIZES, build_model, count_parameters  # noqa: E402
from rapidun.modeling.plan import PlanSettings, plan_model  # noqa: E402
from rapidun.modeling.tokenizer import train_tokenizer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_bench.json"
UNLEARN_BATCHES = (1, 8)


def long_rows(n: int, start: int = 0) -> list[Row]:
    """Distinct rows of ~60-word prompts and responses: every row is cut at any --max-length up to ~128 tokens."""
    rows = []
    for i in range(start, start + n):
        text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(60))
        rows.append(Row(f"Row {i}: summarise {text[:120]}", text))
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="large", choices=list(SIZES), help="model size name")
    ap.add_argument("--dtype", default=None, choices=["bf16", "fp32"], help="default: bf16 on a GPU, fp32 on CPU")
    ap.add_argument("--max-length", type=int, default=128, help="tokens per row")
    ap.add_argument("--influence-batch-size", type=int, default=32, help="rows per gradient batch (floor too)")
    ap.add_argument("--forget-rows", type=int, default=40, help="rows of the forget set")
    ap.add_argument("--retain-rows", type=int, default=120, help="rows of the retain set")
    ap.add_argument("--train-steps", type=int, default=3, help="full fine-tuning steps (the plan's train stage)")
    ap.add_argument("--train-batch-size", type=int, default=16, help="rows per fine-tuning step")
    ap.add_argument("--unlearn-steps", type=int, default=48, help="unlearning optimiser steps per batch size")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the floor (best kept)")
    ap.add_argument("--processes", type=int, default=None, help="2+: also the torchrun runs (default: 2 on 2+ GPUs)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    ap.add_argument("--work", type=Path, default=None, help="work directory (default: a temporary one)")
    return ap.parse_args(argv)


class Bench:
    """The run's shared state: device, dtype, rows, tokenizer, the base model on CPU, and the results so far."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = (
            torch.bfloat16
            if (args.dtype or ("bf16" if self.device.type == "cuda" else "fp32")) == "bf16"
            else torch.float32
        )
        self.work = args.work or Path(tempfile.mkdtemp(prefix="rapidun_gpu_bench_"))
        self.forget = long_rows(args.forget_rows)
        self.retain = long_rows(args.retain_rows, start=args.forget_rows)
        self.train_rows = long_rows(args.train_batch_size * max(1, args.train_steps), start=10_000)
        corpus = [f"{r.instruction} {r.response}" for r in self.forget + self.retain + self.train_rows]
        size = SIZES[args.size]
        self.tok = train_tokenizer(corpus, size.vocab_size)
        self.runtime_mb = current_rss_mb()  # the process before the model exists: the plan's runtime term on CPU
        # The size's full vocabulary (>= the tokenizer's), so the shapes are those rapidun plan --model SIZE plans.
        self.base = build_model(args.size, size.vocab_size, seed=0, pad_token_id=self.tok.pad_token_id,
                                bos_token_id=self.tok.bos_token_id, eos_token_id=self.tok.eos_token_id,
                                dtype=self.dtype)  # fmt: skip
        self.base.eval()
        self.results: dict[str, Any] = {
            "command": "python benchmarks/gpu_bench.py " + " ".join(sys.argv[1:]),
            "device": torch.cuda.get_device_name(0) if self.device.type == "cuda" else platform.processor() or "cpu",
            "gpus": torch.cuda.device_count(),
            "torch": torch.__version__,
            "size": args.size,
            "parameters": count_parameters(self.base),
            "dtype": str(self.dtype).removeprefix("torch."),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "stages": {},
        }

    def fresh(self) -> Any:
        """A copy of the base model on the device; the peak counter starts from here."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        model = copy.deepcopy(self.base).to(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        return model

    def peak_now(self) -> float:
        """MiB: the CUDA allocation peak since :meth:`fresh`, or this process's resident set on CPU."""
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated() / 2**20
        return current_rss_mb()

    def record(self, stage: str, values: dict[str, Any]) -> None:
        self.results["stages"][stage] = values
        self.args.out.parent.mkdir(parents=True, exist_ok=True)
        self.args.out.write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        print(f"{stage}: {json.dumps(values, default=str)}", flush=True)


def stage_peak(stages: dict[str, Any], names: Callable[[str], bool], device: torch.device) -> float:
    """The largest per-stage peak a library run recorded (``peak_cuda_mb`` on CUDA, ``peak_rss_mb`` on CPU)."""
    key = "peak_cuda_mb" if device.type == "cuda" else "peak_rss_mb"
    return max((float(v.get(key, 0.0)) for k, v in stages.items() if isinstance(v, dict) and names(k)), default=0.0)


def floor_and_influence(b: Bench) -> None:
    """The floor and the influence caching rate on one model copy; both stages recorded."""
    from rapidun.influence.stage import compute_influence

    args = b.args
    model = b.fresh()
    enc = encode_rows(b.forget + b.retain, b.tok, args.max_length).examples
    batches = [
        {k: v.to(b.device) for k, v in collate(enc[i : i + args.influence_batch_size], b.tok.pad_token_id).items()}
        for i in range(0, len(enc), args.influence_batch_size)
    ]
    tokens = sum(int(x["attention_mask"].sum()) for x in batches)
    floor_rate(model, batches[:1], 1)  # warm-up (kernels, allocator)
    floor = floor_rate(model, batches, args.reps)
    b.record("floor", {"rows_per_s": floor, "tokens_per_row": tokens / len(enc), "peak_mb": b.peak_now()})
    if b.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    res = compute_influence(model, b.tok, b.forget, b.retain, b.work / "influence", progress=False, overwrite=True,
                            batch_size=args.influence_batch_size, max_length=args.max_length)  # fmt: skip
    sync()
    cache_s = sum(v["seconds"] for k, v in res.timings.items() if k.startswith("cache_"))
    rate = len(enc) / cache_s
    b.record(
        "influence",
        {
            "rows_per_s": rate,
            "vs_floor": rate / floor,
            "cache_s": cache_s,
            "total_s": time.perf_counter() - t0,
            "projector": res.manifest.get("config", {}).get("projector"),
            "peak_mb": stage_peak(res.timings, lambda k: k.startswith("cache_"), b.device),
        },
    )
    del model


def train_stage(b: Bench) -> None:
    """A few full fine-tuning steps (the plan's ``train`` stage): steps/s and the training stage's peak."""
    from rapidun.training.sft import TrainConfig, train_model

    args = b.args
    model = b.fresh()
    model.train()
    cfg = TrainConfig(max_steps=args.train_steps, batch_size=args.train_batch_size, max_length=args.max_length,
                      lr=1e-5, checkpoint_every=0)  # fmt: skip
    res = train_model(model, b.tok, b.train_rows, b.work / "train", cfg, overwrite=True, progress=False)
    stages = res.run.get("stages", {})
    seconds = float(stages.get("training", {}).get("seconds", res.seconds))
    b.record(
        "train",
        {
            "steps": res.steps,
            "steps_per_s": res.steps / seconds,
            "batch_size": args.train_batch_size,
            "peak_mb": stage_peak(stages, lambda k: k == "training", b.device),
        },
    )
    del model


def unlearn_stage(b: Bench, batch: int) -> None:
    """``rapidun`` unlearning for ``--unlearn-steps`` steps at ``batch`` rows per step, reusing the influence."""
    from rapidun.unlearning import UnlearnConfig, unlearn

    args = b.args
    model = b.fresh()
    for p in model.parameters():
        p.requires_grad_(False)
    epochs = args.unlearn_steps * batch / (len(b.forget) + len(b.retain))
    cfg = UnlearnConfig(max_length=args.max_length, batch_size=batch, epochs=epochs)
    res = unlearn(model, b.tok, b.forget, b.retain, b.work / f"unlearn_b{batch}", method="rapidun", train=cfg,
                  influence_dir=b.work / "influence", overwrite=True, progress=False)  # fmt: skip
    sync()
    stages = res.run.get("stages", {})
    seconds = float(stages["training"]["seconds"])
    steps = int(res.run["steps"])
    b.record(
        f"unlearn_b{batch}",
        {
            "steps": steps,
            "steps_per_s": steps / seconds,
            "rows_per_s": steps * batch / seconds,
            "batch_size": batch,
            "peak_mb": stage_peak(stages, lambda k: k == "training", b.device),
        },
    )
    del model


def plan_comparison(b: Bench) -> None:
    """Each measured stage's peak next to ``rapidun plan``'s prediction for the same workload."""
    args, stages = b.args, b.results["stages"]
    on_cuda = b.device.type == "cuda"
    dtype = "bf16" if b.dtype == torch.bfloat16 else "fp32"

    def predicted(stage: str, batch: int) -> dict[str, Any]:
        settings = PlanSettings(batch_size=batch, influence_batch_size=args.influence_batch_size,
                                max_length=args.max_length, forget_rows=len(b.forget), retain_rows=len(b.retain))  # fmt: skip
        plan = plan_model(args.size, settings, dtype, runtime_mb=0.0 if on_cuda else b.runtime_mb)
        return next(s for s in plan.stages if s.stage == stage).__dict__

    wanted = {"train": ("train", args.train_batch_size), "influence": ("influence", args.influence_batch_size)}
    wanted |= {f"unlearn_b{n}": ("unlearn", n) for n in UNLEARN_BATCHES}
    rows = {}
    for name, (plan_stage, batch) in wanted.items():
        if name not in stages:
            continue
        p = predicted(plan_stage, batch)
        measured = float(stages[name]["peak_mb"])
        rows[name] = {
            "plan_stage": plan_stage,
            "measured_peak_mb": round(measured, 1),
            "predicted_peak_mb": p["peak_mb"],
            "relative_error": round((p["peak_mb"] - measured) / measured, 4) if measured > 0 else None,
            "predicted_parts_mb": {k: p[k] for k in ("weights_mb", "training_state_mb", "activations_mb")},
        }
    rows["note"] = "CUDA: allocation peaks vs the plan without its runtime term; CPU: resident set vs the full plan"
    b.record("memory_vs_plan", rows)


def torchrun(b: Bench, n: int, *command: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``python -m rapidun COMMAND`` under ``torchrun --standalone --nproc_per_node n``; (seconds, process)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n)]
    cmd += ["-m", "rapidun", "-q", *command, "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} on {n} processes failed: {proc.stderr[-1500:]}")
    return time.perf_counter() - t0, proc


def multi_process(b: Bench, n: int) -> None:
    """Influence caching and batch-8 unlearning as ``n``-process torchrun commands, next to the 1-process rates."""
    from rapidun.modeling.load import save_model

    args, one = b.args, b.results["stages"]
    model_dir, forget, retain = b.work / "model", b.work / "forget.jsonl", b.work / "retain.jsonl"
    save_model(b.base, b.tok, model_dir)
    write_rows(forget, b.forget)
    write_rows(retain, b.retain)
    dtype = ["--model-dtype", "bf16" if b.dtype == torch.bfloat16 else "fp32"]
    common = ["--model", str(model_dir), "--forget", str(forget), "--retain", str(retain), *dtype]
    common += ["--max-length", str(args.max_length)]
    infl = b.work / f"influence_{n}p"
    wall_i, _ = torchrun(b, n, "influence", *common, "--out", str(infl), "--overwrite",
                         "--batch-size", str(args.influence_batch_size))  # fmt: skip
    timings = json.loads((infl / "timings.json").read_text())
    cache_s = sum(v["seconds"] for k, v in timings.items() if k.startswith("cache_"))
    batch = max(UNLEARN_BATCHES)
    epochs = args.unlearn_steps * batch / (len(b.forget) + len(b.retain))
    out = b.work / f"unlearn_{n}p"
    wall_u, _ = torchrun(b, n, "unlearn", *common, "--influence", str(infl), "--out", str(out), "--overwrite",
                         "--batch-size", str(batch), "--epochs", f"{epochs:.6f}")  # fmt: skip
    run = json.loads((out / "run.json").read_text())
    steps_per_s = run["steps"] / float(run["stages"]["training"]["seconds"])
    rows_per_s = (len(b.forget) + len(b.retain)) / cache_s
    b.record(
        f"processes_{n}",
        {
            "influence_rows_per_s": rows_per_s,
            "influence_speedup_vs_1": rows_per_s / one["influence"]["rows_per_s"] if "influence" in one else None,
            "unlearn_b8_steps": run["steps"],
            "unlearn_b8_steps_per_s": steps_per_s,
            "unlearn_b8_speedup_vs_1": (
                steps_per_s / one[f"unlearn_b{batch}"]["steps_per_s"] if f"unlearn_b{batch}" in one else None
            ),
            "command_wall_s": {"influence": wall_i, "unlearn": wall_u},
        },
    )


def guarded(b: Bench, name: str, fn: Callable[[], None], strict: bool) -> None:
    """Run one stage; on a device, a failing stage is recorded and the next one runs (device time is scarce)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - recorded in the results, then re-raised in a dry run
        if strict:
            raise
        b.record(f"{name}_error", {"error": f"{type(exc).__name__}: {exc}"[:2000]})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available() and args.size == "large":
        print("gpu_bench: no CUDA device; use --size tiny --dtype fp32 for a CPU dry run", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    b = Bench(args)
    print(
        f"gpu_bench: {args.size} ({b.results['parameters'] / 1e6:.1f}M) {b.results['dtype']} on {b.results['device']}"
    )
    strict = b.device.type == "cpu"  # a dry run must fail loudly; a device run keeps what it measured
    guarded(b, "influence", lambda: floor_and_influence(b), strict)
    guarded(b, "train", lambda: train_stage(b), strict)
    for batch in UNLEARN_BATCHES:
        guarded(b, f"unlearn_b{batch}", lambda batch=batch: unlearn_stage(b, batch), strict)
    guarded(b, "memory_vs_plan", lambda: plan_comparison(b), strict)
    processes = args.processes if args.processes is not None else (2 if torch.cuda.device_count() >= 2 else 1)
    if processes >= 2:
        guarded(b, f"processes_{processes}", lambda: multi_process(b, processes), strict)
    b.results["wall_s"] = time.perf_counter() - t0
    b.record("done", {"wall_s": b.results["wall_s"]})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
