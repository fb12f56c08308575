"""Tables and the issue-11 verdict from a frontier study's ``results.json`` (BENCHMARKS.md section 13).

    python benchmarks/frontier_verdict.py runs/frontier_tiny/results.json --budget 1.1 \
        --results benchmarks/results/frontier_tiny_verdict.json

Prints, per dataset, every swept method's test ASR (seen, OOD) at each perplexity budget with its 95% interval
(bootstrap over seeds and prompts), then the target check at ``--budget``: the influence-guided method with the
lowest *validation* ASR (mean of seen and OOD; chosen without test data) against every method that uses no
influence, with the paired test differences and their intervals. The target holds when both differences (seen
and OOD) are below 0 with the interval excluding 0 against every such method.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rapidun.reporting.frontier import CLIFF
from rapidun.unlearning.registry import uses_influence

SPLITS = ("seen", "ood")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _cell(entry: dict[str, Any]) -> str:
    lo, hi = entry["ci95"]
    reached = "" if entry.get("budget_reached", True) else " (budget not reached)"
    cliff = " (cliff)" if entry.get("val_asr_drop", 0.0) > CLIFF else ""  # mixes two settings far apart in ASR
    return f"{_pct(entry['asr'])} [{_pct(lo)}, {_pct(hi)}]{reached}{cliff}"


def table(methods: dict[str, Any], budgets: list[str]) -> list[str]:
    head = "| method | seeds | " + " | ".join(f"{s} ASR % at PPL x{b}" for b in budgets for s in SPLITS) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(budgets))]
    for name, block in methods.items():
        cells = [_cell(block["budgets"][b][s]) for b in budgets for s in SPLITS]
        lines.append(f"| {name} | {len(block['seeds'])} | " + " | ".join(cells) + " |")
    return lines


def verdict(methods: dict[str, Any], budget: str) -> dict[str, Any]:
    """The best influence-guided method (by validation ASR) against every method without influence."""
    guided = [m for m in methods if uses_influence(m)]
    plain = [m for m in methods if not uses_influence(m)]
    if not guided or not plain:
        return {"note": "needs influence-guided and plain methods on the frontier"}

    def val_asr(m: str) -> float:
        return sum(methods[m]["budgets"][budget][s]["val_asr"] for s in SPLITS) / len(SPLITS)

    best = min(guided, key=val_asr)
    rows = []
    for other in plain:
        diffs = {s: methods[best]["budgets"][budget][s]["vs"][other] for s in SPLITS}
        beats = all(d["ci95"][1] < 0 for d in diffs.values())
        rows.append({"against": other, "beats_outside_noise": beats, **{s: diffs[s] for s in SPLITS}})
    return {
        "budget": budget,
        "best_influence_method": best,
        "chosen_by": "lowest validation ASR (mean of seen and OOD) at the budget",
        "validation_asr": {m: val_asr(m) for m in guided},
        "comparisons": rows,
        "target_met": all(r["beats_outside_noise"] for r in rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results_json", type=Path)
    ap.add_argument("--budget", default="1.1")
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    block = json.loads(args.results_json.read_text())["frontier"]
    out: dict[str, Any] = {"source": str(args.results_json), "spread": block["spread"], "datasets": {}}
    for name, data in block["datasets"].items():
        methods = data.get("methods", {})
        print(f"## {name}\n")
        print("\n".join(table(methods, block["budgets"])))
        v = verdict(methods, args.budget)
        out["datasets"][name] = {"verdict": v, "notes": data.get("notes", [])}
        if "best_influence_method" in v:
            print(f"\nbest influence-guided method on validation at x{args.budget}: {v['best_influence_method']}")
            for r in v["comparisons"]:
                seen, ood = r["seen"], r["ood"]
                print(
                    f"  vs {r['against']}: seen {_pct(seen['diff'])} [{_pct(seen['ci95'][0])}, {_pct(seen['ci95'][1])}]"
                    f", OOD {_pct(ood['diff'])} [{_pct(ood['ci95'][0])}, {_pct(ood['ci95'][1])}] points"
                    f"{'  (beats it outside noise)' if r['beats_outside_noise'] else ''}"
                )
            print(f"target met: {v['target_met']}")
        for note in data.get("notes", []):
            print(f"note: {note}")
    if args.results:
        args.results.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
