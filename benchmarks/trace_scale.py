"""Tracing at scale (issue 14, item 3): caching speed against the forward/backward floor, scoring throughput, and
memory that stays flat as the training set grows.

    OMP_NUM_THREADS=1 python benchmarks/trace_scale.py --model tiny --train-rows 20000 --workdir runs/trace_scale_tiny
    OMP_NUM_THREADS=1 python benchmarks/trace_scale.py --model small --train-rows 5000 --workdir runs/trace_scale_small

Steps (each reused when its output exists, so a killed run resumes):
1. ``rapidun poison --data synthetic`` with enough rows for ``--train-rows`` training rows (10% poisoned), and
   ``rapidun train`` for ``--train-steps`` steps (a briefly trained model: the gradients carry signal; the backdoor
   is only partly learnt, so the AUC printed is a by-product, not a tracing-quality result).
2. **Caching speed**, in one process and on the same ``--speed-rows`` training rows, batched exactly as the cache
   batches them: the floor (forward + backward to the tracked layers' activations, no weight gradients, no
   projection) against our caching path (``fill_store``: per-sample projected gradients written to the fp16
   memory-mapped store). Interleaved repetitions; best process CPU seconds (robust to other jobs on the machine).
   Target: caching samples/s >= 0.8 x the floor's.
3. **The whole trace** of all training rows from 10 triggered validation prompts (``rapidun.tracing.trace``, the
   default ``influence`` ranker), with its stage timings and the peak resident memory above the model-loaded
   baseline; the same for the first quarter of the rows, to show memory does not grow with the row count.
4. **Scoring throughput**: ``score_matrix`` of ``--score-queries`` random query vectors against the memory-mapped
   training-row store just written, one thread: (report, row) pairs per CPU second. Target: >= 5M pairs/s/core.

Writes ``--out`` (default ``benchmarks/results/trace_scale_<model>.json``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from influence_bench.extraction import floor_variant  # noqa: E402
from influence_bench.measure import measure, peaks_during, release_memory, status_mb  # noqa: E402
from rapidun.data.rows import load_rows  # noqa: E402
from rapidun.data.tokenize import collate  # noqa: E402
from rapidun.influence.caching import encode_set, tracked_layers  # noqa: E402
from rapidun.influence.config import DEFAULT_DIM  # noqa: E402
from rapidun.influence.extract import fill_store  # noqa: E402
from rapidun.influence.gradient_store import open_store  # noqa: E402
from rapidun.influence.score import score_matrix  # noqa: E402
from rapidun.modeling.load import load_model  # noqa: E402
from rapidun.tracing.config import TraceConfig  # noqa: E402
from rapidun.tracing.reports import Report  # noqa: E402
from rapidun.tracing.stage import trace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_SHARE = 0.85  # rapidun poison keeps this share of --n-rows as training rows (the rest: val and test)


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def build(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    pack, model = work / "pack", work / "model"
    if not (pack / "manifest.json").exists():
        n_rows = math.ceil(args.train_rows / TRAIN_SHARE) + 10
        run(["rapidun", "-q", "poison", "--data", "synthetic", "--out", str(pack), "--poison-rate", "0.1",
             "--n-rows", str(n_rows), "--overwrite"])  # fmt: skip
    if not (model / "manifest.json").exists():
        run(["rapidun", "-q", "train", "--model", args.model, "--data", str(pack), "--out", str(model),
             "--max-steps", str(args.train_steps), "--batch-size", "16", "--max-length", "128", "--lr", "3e-3",
             "--overwrite"])  # fmt: skip
    return pack, model


def caching_speed(model: Any, tok: Any, rows: list[Any], dims: list[int], args: argparse.Namespace) -> dict:
    """Floor vs caching at each projection size in ``dims`` (K; the trace's default first), on the same rows and
    batches, interleaved, best CPU seconds of ``args.reps``."""
    icfg = TraceConfig().influence()
    examples = encode_set(rows[: args.speed_rows], tok, icfg, "train")
    layers, _ = tracked_layers(model, icfg)
    pad = tok.pad_token_id
    batches = [collate(examples[s : s + icfg.batch_size], pad) for s in range(0, len(examples), icfg.batch_size)]
    tmp = Path(tempfile.mkdtemp(prefix="trace_scale_"))

    def cache(dim: int) -> Any:
        _, projector = tracked_layers(model, replace(icfg, dim=dim))

        def run() -> None:
            store = open_store(tmp / f"store{dim}", len(examples), projector.dim, icfg.dtype, {"b": 1}, overwrite=True)
            fill_store(model, layers, projector, examples, pad, store, batch_size=icfg.batch_size, progress=False)

        return run

    variants = {"floor": floor_variant(model, layers, batches)} | {f"caching K={d}": cache(d) for d in dims}
    out = measure(variants, {k: len(examples) for k in variants}, args.reps)
    ratios = {f"K={d}": out[f"caching K={d}"]["samples_per_s"] / out["floor"]["samples_per_s"] for d in dims}
    return {"rows": len(examples), "batch_size": icfg.batch_size, "projector": icfg.projector,
            "default_dim": icfg.dim, "variants": out, "caching_vs_floor": ratios}  # fmt: skip


def trace_peaks(fn: Any) -> dict[str, float]:
    """Wall seconds of ``fn()`` and its peak resident memory above the starting point (MiB, sampled every 5 ms):
    all of it (VmRSS) and the anonymous part (RssAnon: the process's own allocations, without the file-backed
    pages of the memory-mapped cache, which count in RSS while cached but which the kernel may drop at any time)."""
    rss_before, anon_before = status_mb("VmRSS"), status_mb("RssAnon")
    wall, peaks = peaks_during(fn, {f: (lambda f=f: status_mb(f)) for f in ("VmRSS", "RssAnon")})
    return {"wall_s": wall, "rss_before_mb": rss_before, "anon_before_mb": anon_before,
            "peak_rss_above_start_mb": peaks["VmRSS"], "peak_anon_above_start_mb": peaks["RssAnon"]}  # fmt: skip


def whole_trace(model: Any, tok: Any, rows: list[Any], reports: list[Report], work: Path, name: str) -> dict:
    """One full trace (fresh cache), its stage timings, peak memory above the starting point, ranking quality."""
    out = work / name
    cfg = TraceConfig(k=sum(bool(r.is_poisoned) for r in rows))
    release_memory()
    measured = trace_peaks(lambda: trace(model, tok, rows, reports, out, cfg, overwrite=True, progress=False))
    timings = json.loads((out / "timings.json").read_text())
    quality = json.loads((out / "quality.json").read_text()) if (out / "quality.json").exists() else None
    cache_bytes = sum(f.stat().st_size for f in (out / "cache").rglob("*") if f.is_file())
    return {"train_rows": len(rows), "reports": len(reports), **measured, "timings": timings, "quality": quality,
            "cache_bytes": cache_bytes}  # fmt: skip


def random_store(directory: Path, n_rows: int, dim: int) -> Path:
    """A finished-looking fp16 store of ``n_rows`` random rows of size ``dim`` (scoring speed does not depend on
    the values), written in 1,024-row blocks."""
    rng = np.random.default_rng(0)
    key = {"random": 1}
    store = open_store(directory, n_rows, dim, "fp16", key, overwrite=True)
    for s in range(0, n_rows, 1024):
        e = min(s + 1024, n_rows)
        store.write(s, torch.from_numpy(rng.normal(size=(e - s, dim)).astype(np.float32)), (0, n_rows))
    return directory


def scoring_rate(store_dir: Path, n_queries: int, reps: int) -> dict:
    """(query, row) pairs per CPU second of ``score_matrix`` against the on-disk training-row store, one thread."""
    key = json.loads((store_dir / "key.json").read_text())
    store = open_store(store_dir, key["n_rows"], key["dim"], key["dtype"], key)
    rng = np.random.default_rng(0)
    queries = torch.from_numpy(rng.normal(size=(n_queries, store.dim)).astype(np.float32))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    score_matrix(queries[:1], store)  # warm-up: pages the memory map in
    best = math.inf
    for _ in range(reps):
        t = time.process_time()
        score_matrix(queries, store)
        best = min(best, time.process_time() - t)
    torch.set_num_threads(threads)
    return {"queries": n_queries, "train_rows": store.n_rows, "dim": store.dim, "dtype": store.dtype,
            "cpu_s": best, "pairs_per_s_per_core": n_queries * store.n_rows / best}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="size name")
    parser.add_argument("--train-rows", type=int, default=20000, help="training rows to trace")
    parser.add_argument("--train-steps", type=int, default=300, help="optimiser steps of the traced model")
    parser.add_argument("--speed-rows", type=int, default=1024, help="rows of the floor-vs-caching comparison")
    parser.add_argument("--dims", type=int, nargs="*", default=[4096], help="projection sizes besides the default")
    parser.add_argument("--speed-only", action="store_true", help="only the floor-vs-caching comparison")
    parser.add_argument("--score-queries", type=int, default=256, help="query vectors of the scoring measurement")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (best of)")
    parser.add_argument("--workdir", default=None, help="pack, model and traces (default runs/trace_scale_<model>)")
    parser.add_argument("--out", default=None, help="results JSON")
    args = parser.parse_args()
    work = Path(args.workdir or f"runs/trace_scale_{args.model}")
    pack, model_dir = build(args, work)
    rows = load_rows(pack / "train.jsonl")[: args.train_rows]
    val_seen = load_rows(pack / "val_seen.jsonl")[:10]
    reports = [Report(instruction=r.instruction, context=r.context) for r in val_seen]
    loaded = load_model(str(model_dir))
    model, tok = loaded.model, loaded.tokenizer
    model.eval()
    res: dict[str, Any] = {"model": args.model, "threads": torch.get_num_threads(), "command": " ".join(sys.argv)}
    dims = sorted({TraceConfig().influence().dim or DEFAULT_DIM, *args.dims}, reverse=True)
    res["caching_speed"] = caching_speed(model, tok, rows, dims, args)
    print(json.dumps({"caching_vs_floor": res["caching_speed"]["caching_vs_floor"]}), flush=True)
    if args.speed_only:
        out = Path(args.out or RESULTS / f"trace_scale_{args.model}_speed.json")
        out.write_text(json.dumps(res, indent=1) + "\n")
        return 0
    res["trace_quarter"] = whole_trace(model, tok, rows[: len(rows) // 4], reports, work, "trace_quarter")
    res["trace_all"] = whole_trace(model, tok, rows, reports, work, "trace_all")
    res["scoring"] = scoring_rate(work / "trace_all" / "cache" / "train", args.score_queries, args.reps)
    for dim in dims[1:]:  # the other projection sizes: a random fp16 store with as many rows
        res[f"scoring_K{dim}"] = scoring_rate(
            random_store(work / f"random_store{dim}", len(rows), dim), args.score_queries, args.reps
        )
    out = Path(args.out or RESULTS / f"trace_scale_{args.model}.json")
    out.write_text(json.dumps(res, indent=1) + "\n")
    summary = {k: res[k] for k in ("model", "threads")}
    summary |= {"caching_vs_floor": {k: round(v, 3) for k, v in res["caching_speed"]["caching_vs_floor"].items()}}
    summary |= {"pairs_per_s_per_core": round(res["scoring"]["pairs_per_s_per_core"] / 1e6, 2)}
    for k in ("trace_quarter", "trace_all"):
        summary |= {f"{k}_peak_rss_mb": round(res[k]["peak_rss_above_start_mb"], 1)}
        summary |= {f"{k}_peak_anon_mb": round(res[k]["peak_anon_above_start_mb"], 1)}
    print(json.dumps(summary), "->", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
