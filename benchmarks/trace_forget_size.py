"""Issue 14's target with the traced forget set's size chosen on validation (BENCHMARKS.md section 19.3).

    python benchmarks/trace_forget_size.py benchmarks/results/trace_forget_small_k2_5seeds_results.json \
        --sources infl10 infl10_k2 --results benchmarks/results/trace_forget_size_small.json

A user who traces does not know how many rows to forget. Given a forget-source study (results.json with a
``frontier`` block over ``forget_sources``) that unlearned from traced sets of several sizes, this picks, at each
perplexity budget, the size whose unlearned model has the lowest *validation* ASR (mean of seen and OOD, the
prompts held out from the test splits, as the frontier picks strengths) and reports that source's *test* seen and
OOD ASR and its paired difference to the oracle source with the 95% interval the study computed. The target holds
at a budget when the seen difference's interval lies below +5 points.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SPLITS = ("seen", "ood")
TARGET_POINTS = 5.0  # issue 14: within 5 points of the oracle forget set


def choose(methods: dict[str, Any], method: str, sources: list[str], budget: str) -> dict[str, Any]:
    """The source of ``sources`` with the lowest validation ASR at ``budget`` and its test comparison to the oracle."""

    def val_asr(source: str) -> float:
        entry = methods[f"{method}@{source}"]["budgets"][budget]
        return sum(entry[s]["val_asr"] for s in SPLITS) / len(SPLITS)

    best = min(sources, key=val_asr)
    entry = methods[f"{method}@{best}"]["budgets"][budget]
    diffs = {s: entry[s]["vs"][f"{method}@oracle"] for s in SPLITS}
    return {
        "budget": budget,
        "chosen": best,
        "chosen_by": "lowest validation ASR (mean of seen and OOD) at the budget",
        "validation_asr": {s: val_asr(s) for s in sources},
        "test_asr": {s: entry[s]["asr"] for s in SPLITS},
        "vs_oracle": diffs,
        "within_5_points": 100 * diffs["seen"]["ci95"][1] < TARGET_POINTS,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results_json", type=Path)
    ap.add_argument("--sources", nargs="+", required=True, help="the traced sources to choose among")
    ap.add_argument("--method", default="uniform")
    ap.add_argument("--dataset", help="dataset name (default: the study's only one)")
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    frontier = json.loads(args.results_json.read_text())["frontier"]
    datasets = frontier["datasets"]
    name = args.dataset or next(iter(datasets))
    methods = datasets[name]["methods"]
    out: dict[str, Any] = {"source": str(args.results_json), "dataset": name, "spread": frontier["spread"]}
    out["budgets"] = [choose(methods, args.method, args.sources, str(b)) for b in frontier["budgets"]]
    for row in out["budgets"]:
        seen = row["vs_oracle"]["seen"]
        low, high = (100 * x for x in seen["ci95"])
        print(
            f"{name} x{row['budget']}: chosen {row['chosen']} (validation ASR "
            + ", ".join(f"{s} {100 * v:.1f}" for s, v in row["validation_asr"].items())
            + f"); test seen {100 * row['test_asr']['seen']:.1f}%, vs oracle {100 * seen['diff']:+.1f} "
            f"[{low:.1f}, {high:.1f}]; within 5 points: {row['within_5_points']}"
        )
    if args.results:
        args.results.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
