"""Sequential deletion requests of a study (a study with a ``sequential:`` block): per method, the mean over seeds of
the seen / OOD ASR, clean perplexity and cumulative cost after each request, against one combined request and the
study's own cell (the same forget rows served at once). Writes the per-seed values to a JSON file.

    python benchmarks/sequential_summary.py STUDY_DIR --out benchmarks/results/sequential_tiny.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _mean(values: list[float], scale: float = 1.0, form: str = ".1f") -> str:
    values = [v * scale for v in values if v is not None]
    if not values:
        return "-"
    spread = f" ± {statistics.stdev(values):{form}}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):{form}}{spread}"


def _steps(record: dict[str, Any], ppl0: float) -> list[dict[str, Any]]:
    """Per stage (start, request 1..k, combined): seen / OOD ASR, PPL ratio to the backdoored model, cumulative cost."""
    seq = record["sequential"]
    stages = [{"stage": "start", **seq["start"], "cost_s": 0.0}]
    for r in seq["requests"]:
        stages.append({"stage": f"request {r['index']}", **r["metrics"], "cost_s": r["cumulative_cost_s"]})
    if seq.get("combined"):
        stages.append({"stage": "combined", **seq["combined"]["metrics"], "cost_s": seq["combined"]["cost_s"]})
    for s in stages:
        s["ppl_ratio"] = s["clean_ppl"] / ppl0 if s.get("clean_ppl") else None
    return stages


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study_dir")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    runs = json.loads((Path(args.study_dir) / "results.json").read_text())["runs"]
    ppl0 = {r["dataset"]: r["metrics"]["clean_ppl"] for r in runs if r["method"] == "backdoored"}
    per_seed = {}
    for r in runs:
        if r.get("sequential"):
            per_seed.setdefault(r["method"], {})[r["seed"]] = _steps(r, ppl0[r["dataset"]])
    print("| method | stage | seen ASR (%) | OOD ASR (%) | clean PPL ratio | cumulative cost (s) |")
    print("|---|---|---|---|---|---|")
    for method, by_seed in per_seed.items():
        stages = [s["stage"] for s in next(iter(by_seed.values()))]
        for i, stage in enumerate(stages):
            col = [seed_stages[i] for seed_stages in by_seed.values()]
            print(
                f"| {method} | {stage} | {_mean([c['asr_seen'] for c in col], 100)} "
                f"| {_mean([c['asr_ood'] for c in col], 100)} | {_mean([c['ppl_ratio'] for c in col], 1, '.3f')} "
                f"| {_mean([c['cost_s'] for c in col], 1, '.0f')} |"
            )
    out = {"study": args.study_dir, "per_seed": {m: {str(s): v for s, v in d.items()} for m, d in per_seed.items()}}
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
