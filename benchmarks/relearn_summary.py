"""Relearning on a backdoor study (a study with a ``relearn:`` block): per method, over its seeds, the seen-trigger
ASR after unlearning and after relearning, the clean perplexity ratio to the backdoored model, and the recovery
(mean and sample std; per seed in the JSON). Read from results.json and every cell's relearn/relearn.json.

    python benchmarks/relearn_summary.py STUDY_DIR --out benchmarks/results/relearn_tiny_results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from rapidun.pipeline.relearn import RESULT_FILE
from rapidun.pipeline.study_relearn import RELEARN_DIR
from rapidun.reporting.cells import cell_path


def _fmt(values: list[float], form: str) -> str:
    if not values:
        return "-"
    spread = f" ± {statistics.stdev(values):{form}}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):{form}}{spread}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study_dir")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    study = Path(args.study_dir)
    runs = json.loads((study / "results.json").read_text())["runs"]
    before = {r["dataset"]: r["metrics"] for r in runs if r["method"] == "backdoored"}
    per_seed = []
    for r in runs:
        if r["method"] == "backdoored":
            continue
        where = cell_path(study, r["dataset"], r["method"], r.get("label"), r["seed"])
        rec = json.loads((where / RELEARN_DIR / RESULT_FILE).read_text())
        ppl0 = before[r["dataset"]]["clean_ppl"]
        per_seed.append(
            {
                "dataset": r["dataset"],
                "method": r["method"],
                "seed": r["seed"],
                "asr_seen_unlearned": rec["after_unlearning"]["asr_seen"],
                "asr_seen_relearned": rec["after_relearning"]["asr_seen"],
                "asr_ood_relearned": rec["after_relearning"]["asr_ood"],
                "ppl_ratio": r["metrics"]["clean_ppl"] / ppl0,
                "recovery": rec["recovery"],
                "recovery_reason": rec["recovery_reason"],
                "relearn_steps": rec["training"]["steps"],
                "relearn_rows": rec["relearning_rows"]["n"],
            }
        )
    methods = list(dict.fromkeys(x["method"] for x in per_seed))
    steps = sorted({x["relearn_steps"] for x in per_seed})
    rows = {x["relearn_rows"] for x in per_seed}
    print(f"relearning: {steps} steps on {sorted(rows)} forget rows; backdoored seen ASR {_asr(before)}")
    print(
        "| method | seeds | seen ASR unlearned (%) | PPL ratio | seen ASR relearned (%) | OOD ASR relearned (%) | recovery |"
    )
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for m in methods:
        xs = [x for x in per_seed if x["method"] == m]

        def col(key: str, scale: float = 1.0, xs: list[dict[str, Any]] = xs) -> list[float]:
            return [x[key] * scale for x in xs if x[key] is not None]

        summary[m] = {k: col(k) for k in ("asr_seen_unlearned", "asr_seen_relearned", "ppl_ratio", "recovery")}
        print(
            f"| {m} | {len(xs)} | {_fmt(col('asr_seen_unlearned', 100), '.1f')} | {_fmt(col('ppl_ratio'), '.3f')} "
            f"| {_fmt(col('asr_seen_relearned', 100), '.1f')} | {_fmt(col('asr_ood_relearned', 100), '.1f')} "
            f"| {_fmt(col('recovery'), '.2f')} |"
        )
    Path(args.out).write_text(
        json.dumps({"study": str(study), "before": before, "summary": summary, "runs": per_seed}, indent=1)
    )


def _asr(before: dict[str, Any]) -> str:
    return ", ".join(f"{d}: {100 * m['asr_seen']:.1f}%" for d, m in before.items())


if __name__ == "__main__":
    main()
