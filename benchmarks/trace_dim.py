"""Tracing quality and cost against the projection size K (issue 14: is the trace default K = 65,536 needed?).

Reruns one finished study trace (its model, training rows, reports and forget size) with ``rapidun trace`` at each
``--dims`` value, each with its own gradient cache, and records the ranking quality the trace writes
(``quality.json``: ROC AUC, precision / recall at k = the number of poisoned rows and at the forget size) and the
CPU seconds of caching and scoring (children's CPU time of each ``rapidun trace`` run, so the ratios between K
values are comparable even on a shared machine).

    OMP_NUM_THREADS=1 python benchmarks/trace_dim.py runs/trace_forget_small/synthetic --trace infl10 \\
        --dims 4096 16384 65536 --work runs/trace_dim_small --results benchmarks/results/trace_dim_small.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def trace_command(
    data_dir: Path,
    trace_dir: Path,
    out: Path,
    *,
    reports: Path | None = None,
    dim: int | None = None,
    hotwords: str | None = None,
    shared_cache: bool = False,
) -> list[str]:
    """The ``rapidun trace`` command of the finished study trace ``trace_dir`` (its model, training rows, reports
    and settings), writing to ``out``; ``reports``, ``dim`` and ``hotwords`` replace the trace's own, and
    ``shared_cache`` reuses the study's training-row gradient cache (else ``out/cache``)."""
    manifest = json.loads((trace_dir / "manifest.json").read_text())
    cfg = manifest["config"]
    cmd = [
        sys.executable, "-m", "rapidun", "trace",
        "--model", str(data_dir / "backdoored"),
        "--train", str(data_dir / "pack" / "train.jsonl"),
        "--reports", str(reports or trace_dir / "reports.jsonl"),
        "--out", str(out),
        "--ranker", cfg["ranker"], "--aggregate", cfg["aggregate"],
        "--influence-score", cfg["influence_score"], "--k", str(cfg["k"]),
        "--projector", cfg["projector"], "--params", cfg["params"], "--dtype", cfg["dtype"],
        "--batch-size", str(cfg["batch_size"]), "--max-length", str(cfg["max_length"]),
        "--prompt-style", cfg["prompt_style"], "--seed", str(cfg["seed"]), "--no-progress",
    ]  # fmt: skip
    if not cfg["normalize"]:
        cmd.append("--no-normalize")
    if shared_cache:
        cmd += ["--cache-dir", manifest["cache_dir"]]
    if dim or cfg.get("dim"):
        cmd += ["--dim", str(dim or cfg["dim"])]
    if hotwords:
        cmd += ["--hotwords", hotwords]
    return cmd


def write_results(path: Path, data_dir: Path, trace_dir: Path, runs: list[dict], extra: dict | None = None) -> None:
    result = {
        "data_dir": str(data_dir),
        "trace": trace_dir.name,
        "study_trace_quality": json.loads((trace_dir / "quality.json").read_text()),
        "runs": runs,
        **(extra or {}),
        "command": " ".join(sys.argv),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))


def run_trace(data_dir: Path, trace_dir: Path, dim: int, out: Path) -> dict:
    cpu0, wall0 = children_cpu_s(), time.perf_counter()
    subprocess.run(trace_command(data_dir, trace_dir, out, dim=dim), check=True)
    cpu, wall = children_cpu_s() - cpu0, time.perf_counter() - wall0
    timings = json.loads((out / "timings.json").read_text())
    quality = json.loads((out / "quality.json").read_text())
    reference = set(json.loads((trace_dir / "manifest.json").read_text())["forget"]["indices"])
    forget = set(json.loads((out / "manifest.json").read_text())["forget"]["indices"])
    return {
        "dim": dim,
        "quality": quality,
        "timings": timings,
        "cpu_s": cpu,
        "wall_s": wall,
        "forget_overlap_with_study_trace": len(forget & reference) / max(len(reference), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", type=Path, help="a study's dataset directory (backdoored/, pack/, traces/)")
    ap.add_argument("--trace", default="infl10", help="the finished trace under DATA_DIR/traces to rerun")
    ap.add_argument("--dims", type=int, nargs="+", default=[4096, 16384, 65536])
    ap.add_argument("--work", type=Path, required=True, help="where the reruns and their caches go")
    ap.add_argument("--results", type=Path, required=True)
    args = ap.parse_args()
    trace_dir = args.data_dir / "traces" / args.trace
    runs = []
    for dim in args.dims:
        out = args.work / f"{args.trace}_K{dim}"
        runs.append(run_trace(args.data_dir, trace_dir, dim, out))
        print(f"K={dim}: AUC {runs[-1]['quality']['roc_auc']:.3f}, cpu {runs[-1]['cpu_s']:.0f} s", flush=True)
    base = next((r for r in runs if r["dim"] == max(args.dims)), runs[-1])
    for r in runs:
        r["cpu_ratio_vs_largest_dim"] = r["cpu_s"] / base["cpu_s"]
    write_results(args.results, args.data_dir, trace_dir, runs)


if __name__ == "__main__":
    main()
