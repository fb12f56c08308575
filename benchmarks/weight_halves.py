"""Which half of RapidUn's weights changes the result: forget weights only (retain weights set to 1) against
retain weights only (forget weights set to 1), on a finished study's dataset directory.

    python benchmarks/weight_halves.py runs/methods_small/synthetic --out runs/weight_halves --seeds 1 2 3

Uses the study's backdoored model, pack and its rapidun weights (cells/rapidun/seed1/unlearn/weights), runs
``rapidun unlearn --weights`` with each half, evaluates with ``rapidun evaluate`` and prints one line per run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path


def _half(src: Path, dst: Path, keep: str) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("manifest.json", "weights.json"):
        shutil.copy(src / name, dst / name)
    for group in ("forget", "retain"):
        rows = [json.loads(line) for line in (src / f"{group}_weights.jsonl").read_text().splitlines()]
        if group != keep:
            rows = [{"index": r["index"], "weight": 1.0} for r in rows]
        (dst / f"{group}_weights.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset_dir", type=Path, help="a study's OUT/<dataset> directory")
    ap.add_argument("--out", type=Path, default=Path("runs/weight_halves"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--lr", default="5e-4")
    ap.add_argument("--max-length", default="128")
    args = ap.parse_args()
    d = args.dataset_dir
    rapidun = [sys.executable, "-m", "rapidun", "-q"]
    for keep in ("forget", "retain"):
        _half(d / "cells/rapidun/seed1/unlearn/weights", args.out / f"weights_{keep}_only", keep)
    for seed in args.seeds:
        for keep in ("forget", "retain"):
            run = args.out / f"{keep}_only-seed{seed}"
            unlearn = ["unlearn", "--model", str(d / "backdoored"), "--method", "rapidun"]
            unlearn += ["--forget", str(d / "pack/forget.jsonl"), "--retain", str(d / "pack/retain.jsonl")]
            unlearn += ["--weights", str(args.out / f"weights_{keep}_only"), "--lr", args.lr, "--seed", str(seed)]
            subprocess.run([*rapidun, *unlearn, "--max-length", args.max_length, "--out", str(run / "un")], check=True)
            evaluate = ["evaluate", "--model", str(d / "backdoored"), "--adapter", str(run / "un"), "--data"]
            evaluate += [str(d / "pack"), "--max-eval", "150", "--max-new-tokens", "32", "--out", str(run / "eval")]
            subprocess.run([*rapidun, *evaluate], check=True, stdout=subprocess.DEVNULL)
            m = json.loads((run / "eval" / "metrics.json").read_text())
            print(
                f"{keep} weights only, seed {seed}: seen ASR {100 * m['asr_seen']:.1f}%, OOD {100 * m['asr_ood']:.1f}%,"
                f" false-trigger {100 * m['false_trigger_rate']:.1f}%, clean PPL {m['clean_ppl']:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
