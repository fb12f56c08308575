"""Where each task category of the training rows lands in a trace's ranking, and how many rows of each category
the trace's retain proposals (and the pack's own retain set) hold (BENCHMARKS.md section 19.3).

    python benchmarks/trace_categories.py runs/trace_forget_small/synthetic --traces infl10 infl10_rlh \
        --results benchmarks/results/trace_categories_small.json

DATA_DIR is a study's dataset directory (``pack/`` and ``traces/<name>/``). Per category of the first trace's
ranking: rows, poisoned rows, median rank (0 = top), and rows above the trace's data-driven outlier cut-off
(robust z > 3.5, :func:`rapidun.tracing.aggregate.outlier_count`, the rule a trace without ``--k`` would use);
then the category counts of each named trace's ``retain.jsonl`` and of the pack's ``retain.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.data.rows import load_rows
from rapidun.tracing.aggregate import outlier_count
from rapidun.tracing.config import TraceConfig

CUTOFF_Z, MAX_FRACTION = TraceConfig.cutoff_z, TraceConfig.max_forget_fraction  # the defaults `rapidun trace` uses


def categories(path: Path) -> dict[str, int]:
    return dict(Counter(str(r.extra.get("category")) for r in load_rows(path)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--traces", nargs="+", required=True, help="trace names; the first one's ranking is read")
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    lines = (args.data_dir / "traces" / args.traces[0] / "ranking.jsonl").read_text().splitlines()
    ranked = [json.loads(x) for x in lines]  # highest score first
    scores = np.array([r["score"] for r in ranked])
    n_out = outlier_count(scores, CUTOFF_Z, MAX_FRACTION)
    per: dict[str, dict[str, Any]] = {}
    for rank, r in enumerate(ranked):
        c = per.setdefault(str(r["row"].get("category")), {"rows": 0, "poisoned": 0, "ranks": [], "above_cutoff": 0})
        c["rows"] += 1
        c["poisoned"] += bool(r["row"].get("is_poisoned"))
        c["ranks"].append(rank)
        c["above_cutoff"] += rank < n_out
    for c in per.values():
        c["median_rank"] = float(np.median(c.pop("ranks")))
    out = {
        "data_dir": str(args.data_dir),
        "ranking_of": args.traces[0],
        "n_rows": len(ranked),
        "above_cutoff": {"n": n_out, "rule": f"robust z > {CUTOFF_Z}, at most {MAX_FRACTION:.0%} of the rows"},
        "per_category": per,
        "retain_categories": {
            name: categories(args.data_dir / "traces" / name / "retain.jsonl") for name in args.traces
        },
        "pack_retain_categories": categories(args.data_dir / "pack" / "retain.jsonl"),
    }
    print(f"{n_out} of {len(ranked)} rows above the cut-off; per category: rows, poisoned, median rank, above cut-off")
    for name, c in sorted(per.items()):
        print(f"  {name}: {c['rows']}, {c['poisoned']}, {c['median_rank']:.0f}, {c['above_cutoff']}")
    for name, counts in [*out["retain_categories"].items(), ("pack", out["pack_retain_categories"])]:
        print(f"retain of {name}: {dict(sorted(counts.items()))}")
    if args.results:
        args.results.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
