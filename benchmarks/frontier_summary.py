"""Issue 11's target across benches, from the verdict files of ``benchmarks/frontier_verdict.py``.

    python benchmarks/frontier_summary.py \
        tiny=benchmarks/results/frontier_tiny_focus_verdict.json \
        small=benchmarks/results/frontier_small_seeds123_verdict_11.json ... \
        --results benchmarks/results/frontier_summary.json

One line per bench: the influence-guided method chosen on validation at the verdict's budget, and the method
without influence that it fares worst against (the largest paired test difference, seen or OOD, influence minus
other; negative = influence lower). The target (issue 11) holds on a bench when the chosen method is lower on
both splits against every method without influence, with the 95% interval excluding 0; it is met overall when it
holds on at least ``--need`` benches. Nothing is recomputed here: every number is read from the verdict files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SPLITS = ("seen", "ood")


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}"


def hardest_opponent(verdict: dict[str, Any]) -> dict[str, Any]:
    """The comparison whose worse split (the larger influence-minus-other difference) is largest."""
    return max(verdict["comparisons"], key=lambda r: max(r[s]["diff"] for s in SPLITS))


def bench_line(bench: str, verdict_file: Path) -> dict[str, Any]:
    data = json.loads(verdict_file.read_text())
    (dataset, block), *rest = data["datasets"].items()
    if rest:
        raise SystemExit(f"{verdict_file}: holds {len(rest) + 1} datasets; give one verdict file per bench")
    v = block["verdict"]
    if "best_influence_method" not in v:
        raise SystemExit(f"{verdict_file}: no verdict ({v.get('note', 'unknown reason')})")
    worst = hardest_opponent(v)
    seeds = sorted({seed for r in v["comparisons"] for s in SPLITS for seed in r[s]["seeds"]})
    return {
        "bench": bench,
        "verdict_file": str(verdict_file),
        "dataset": dataset,
        "seeds": seeds,
        "budget": v["budget"],
        "best_influence_method": v["best_influence_method"],
        "hardest_opponent": worst["against"],
        **{f"{s}_diff": worst[s]["diff"] for s in SPLITS},
        **{f"{s}_ci95": worst[s]["ci95"] for s in SPLITS},
        "beaten_outside_noise": [r["against"] for r in v["comparisons"] if r["beats_outside_noise"]],
        "not_beaten": [r["against"] for r in v["comparisons"] if not r["beats_outside_noise"]],
        "target_met": v["target_met"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benches", nargs="+", help="NAME=VERDICT_JSON, one per bench")
    ap.add_argument("--need", type=int, default=2, help="benches on which the target must hold (issue 11: 2)")
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    lines = []
    for spec in args.benches:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            raise SystemExit(f"bench {spec!r}: give NAME=PATH to an existing verdict file")
        lines.append(bench_line(name, Path(path)))
    print(
        "| bench | seeds | budget | influence method (validation) | hardest opponent | seen diff | OOD diff | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in lines:
        seen = f"{_pct(r['seen_diff'])} [{_pct(r['seen_ci95'][0])}, {_pct(r['seen_ci95'][1])}]"
        ood = f"{_pct(r['ood_diff'])} [{_pct(r['ood_ci95'][0])}, {_pct(r['ood_ci95'][1])}]"
        print(
            f"| {r['bench']} | {len(r['seeds'])} | x{r['budget']} | {r['best_influence_method']} |"
            f" {r['hardest_opponent']} | {seen} | {ood} | {'met' if r['target_met'] else 'not met'} |"
        )
    held = sum(r["target_met"] for r in lines)
    print(
        f"\ntarget holds on {held} of {len(lines)} benches (needed: {args.need}): {'met' if held >= args.need else 'not met'}"
    )
    if args.results:
        out = {"benches": lines, "need": args.need, "held_on": held, "target_met": held >= args.need}
        args.results.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
