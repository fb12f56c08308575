"""Reruns of one unlearning recipe with one thing changed, on a finished study's dataset directory, to explain a
result (BENCHMARKS.md section 13):

- ``halves``: RapidUn with only its forget weights (retain weights set to 1) and with only its retain weights
  (forget weights set to 1), from the weights of one of the study's rapidun cells;
- ``no_clip``: ``rapidun`` (the study's weights) and ``uniform`` with gradient clipping off (``--grad-clip 1e9``);
  the record counts the steps whose gradient norm exceeded 1.0.

    python benchmarks/unlearn_reruns.py runs/frontier_tiny/synthetic --case halves no_clip --seeds 1 2 3 \
        --results benchmarks/results/unlearn_reruns_tiny.json

Every run is ``rapidun unlearn`` then ``rapidun evaluate --adapter`` (150 prompts per split, 32 greedy tokens), the
study's backdoored model and pack; finished runs are reused (resumable). The JSON holds each run's command, test
metrics and clipping counts; compare it with the study's own cells at the same learning rate and seeds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

RAPIDUN = [sys.executable, "-m", "rapidun", "-q"]


def _half(src: Path, dst: Path, keep: str) -> None:
    """A copy of the weights directory ``src`` whose other group's weights are all 1."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "weights.json"):
        shutil.copy(src / name, dst / name)
    for group in ("forget", "retain"):
        rows = [json.loads(line) for line in (src / f"{group}_weights.jsonl").read_text().splitlines()]
        if group != keep:
            rows = [{"index": r["index"], "weight": 1.0} for r in rows]
        (dst / f"{group}_weights.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _run(d: Path, run: Path, method_args: list[str], seed: int, lr: str) -> dict[str, Any]:
    """Unlearn + evaluate once (reused when its metrics exist); the record of the run."""
    unlearn = ["unlearn", "--model", str(d / "backdoored"), *method_args, "--lr", lr, "--seed", str(seed)]
    unlearn += ["--forget", str(d / "pack/forget.jsonl"), "--retain", str(d / "pack/retain.jsonl")]
    unlearn += ["--max-length", "128", "--out", str(run / "un")]
    evaluate = ["evaluate", "--model", str(d / "backdoored"), "--adapter", str(run / "un"), "--data", str(d / "pack")]
    evaluate += ["--max-eval", "150", "--max-new-tokens", "32", "--batch-size", "32", "--out", str(run / "eval")]
    if not (run / "eval" / "metrics.json").is_file():
        subprocess.run([*RAPIDUN, *unlearn], check=True)
        subprocess.run([*RAPIDUN, *evaluate], check=True, stdout=subprocess.DEVNULL)
    m = json.loads((run / "eval" / "metrics.json").read_text())
    run_json = json.loads((run / "un" / "run.json").read_text())
    train = run_json.get("training", run_json)
    norms = train.get("grad_norms") or []
    keys = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")
    return {
        "commands": [" ".join(["rapidun", *unlearn]), " ".join(["rapidun", *evaluate])],
        "metrics": {k: m[k] for k in keys},
        "steps_over_1": sum(n > 1.0 for n in norms),  # steps clipping at 1.0 would have clipped
        "steps": len(norms),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset_dir", type=Path, help="a study's OUT/<dataset> directory")
    ap.add_argument("--case", nargs="+", choices=("halves", "no_clip"), default=["halves"])
    ap.add_argument("--cell", default="rapidun~lr=0.0005", help="the study cell whose seed-1 weights are used")
    ap.add_argument("--out", type=Path, default=Path("runs/unlearn_reruns"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--lr", default="5e-4")
    ap.add_argument("--results", type=Path, help="write every run's record here (JSON)")
    args = ap.parse_args()
    d, out = args.dataset_dir, args.out
    weights = d / "cells" / args.cell / "seed1" / "unlearn" / "weights"
    variants: dict[str, list[str]] = {}
    if "halves" in args.case:
        for keep in ("forget", "retain"):
            _half(weights, out / f"weights_{keep}_only", keep)
            variants[f"{keep}_only"] = ["--method", "rapidun", "--weights", str(out / f"weights_{keep}_only")]
    if "no_clip" in args.case:
        variants["rapidun_no_clip"] = ["--method", "rapidun", "--weights", str(weights), "--grad-clip", "1e9"]
        variants["uniform_no_clip"] = ["--method", "uniform", "--grad-clip", "1e9"]
    records = []
    for name, method_args in variants.items():
        for seed in args.seeds:
            rec = {"run": name, "seed": seed, **_run(d, out / f"{name}-seed{seed}", method_args, seed, args.lr)}
            m = rec["metrics"]
            print(
                f"{name}, seed {seed}: seen ASR {100 * m['asr_seen']:.1f}%, OOD {100 * m['asr_ood']:.1f}%, "
                f"false-trigger {100 * m['false_trigger_rate']:.1f}%, clean PPL {m['clean_ppl']:.2f}, "
                f"grad norm > 1 at {rec['steps_over_1']}/{rec['steps']} steps",
                flush=True,
            )
            records.append(rec)
    if args.results:
        payload = {"dataset_dir": str(d), "weights_from": str(weights), "lr": args.lr, "runs": records}
        args.results.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
