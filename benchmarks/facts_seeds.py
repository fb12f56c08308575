"""Every method of a facts study over its seeds: mean and sample std of the facts metrics, the retain answers'
perplexity (from each cell's facts_generations.jsonl), the relearning recovery, and paired differences of the
chosen method against every other (the same questions and seeds; paired bootstrap over seeds, then questions,
rapidun.evaluation.paired). Writes everything, per seed too, to one JSON file and prints markdown tables.

    python benchmarks/facts_seeds.py STUDY_DIR --dataset facts --out benchmarks/results/facts_small_3seeds.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from rapidun.evaluation.facts import GENERATIONS_FILE
from rapidun.evaluation.facts_stats import answer_perplexity, exact_match
from rapidun.evaluation.paired import paired_difference
from rapidun.reporting.cells import cell_path

NAMES = {"backdoored": "trained (before unlearning)"}
# (column, path into a record) of the per-method table.
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("forget acc", ("metrics", "forget", "accuracy")),
    ("forget ROUGE-L", ("metrics", "forget", "rouge_l_recall")),
    ("forget quality", ("metrics", "forget_quality")),
    ("MIA AUC min-k++", ("metrics", "mia", "min_k_plus_plus", "auc")),
    ("PrivLeak min-k++", ("metrics", "mia", "min_k_plus_plus", "priv_leak")),
    ("PII leak", ("metrics", "pii_leakage", "forget", "rate")),
    ("retain acc", ("metrics", "retain", "accuracy")),
    ("world acc", ("metrics", "world", "accuracy")),
    ("retain PPL", ("retain_perplexity",)),
    ("unlearn s", ("timings", "total_s")),
    ("relearn recovery", ("relearn_recovery",)),
    ("relearn recovery, not relearned", ("relearn_recovery_heldout",)),
)
PAIRED_SPLITS = ("forget", "retain")


def _get(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _generations(study: Path, record: dict[str, Any]) -> list[dict[str, Any]]:
    where = cell_path(study, record["dataset"], record["method"], record.get("label"), record["seed"])
    return [json.loads(line) for line in (where / GENERATIONS_FILE).read_text().splitlines()]


def _fmt(values: list[float], column: str) -> str:
    if not values:
        return "-"
    form = (
        ".2g" if column == "forget quality" else ".0f" if column == "unlearn s" else ".3g" if "PPL" in column else ".3f"
    )
    mean = statistics.fmean(values)
    spread = f" ± {statistics.stdev(values):{form}}" if len(values) > 1 else ""
    return f"{mean:{form}}{spread}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study_dir", help="a study directory (holds results.json and DATASET/cells)")
    p.add_argument("--dataset", default="facts")
    p.add_argument("--base", default="rapidun", help="the method compared with every other")
    p.add_argument("--results", help="a copy of the study's results.json (default: STUDY_DIR/results.json)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    study = Path(args.study_dir)
    results = Path(args.results) if args.results else study / "results.json"
    runs = [r for r in json.loads(results.read_text())["runs"] if r["dataset"] == args.dataset]
    correct: dict[str, dict[int, dict[str, list[float]]]] = {}
    for r in runs:
        rows = _generations(study, r)
        r["retain_perplexity"] = answer_perplexity([g["mia_loss"] for g in rows if g["split"] == "retain"])
        by_split = {
            s: [float(exact_match(g["output"], g["reference"])) for g in rows if g["split"] == s] for s in PAIRED_SPLITS
        }
        correct.setdefault(r["method"], {})[r["seed"]] = by_split
    methods = list(dict.fromkeys(r["method"] for r in runs))
    summary = {}
    for m in methods:
        members = [r for r in runs if r["method"] == m]
        summary[m] = {"seeds": sorted(r["seed"] for r in members)}
        for column, path in COLUMNS:
            summary[m][column] = [v for v in (_get(r, path) for r in members) if v is not None]
    print("| method | seeds | " + " | ".join(c for c, _ in COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for m in methods:
        cells_text = " | ".join(_fmt(summary[m][c], c) for c, _ in COLUMNS)
        print(f"| {NAMES.get(m, m)} | {len(summary[m]['seeds'])} | {cells_text} |")
    paired = _paired(correct, args.base)
    print(f"\n| {args.base} minus | seeds | " + " | ".join(f"{s} acc [95% CI]" for s in PAIRED_SPLITS) + " |")
    print("|---|---|" + "---|" * len(PAIRED_SPLITS))
    for m, res in paired.items():
        text = " | ".join(
            f"{res[s]['estimate']:+.3f} [{res[s]['low']:+.3f}, {res[s]['high']:+.3f}]" for s in PAIRED_SPLITS
        )
        print(f"| {m} | {len(res['seeds'])} | {text} |")
    out = {"study": str(study), "dataset": args.dataset, "base": args.base, "summary": summary, "paired": paired}
    out["runs"] = [
        {k: r.get(k) for k in ("method", "label", "seed", "retain_perplexity", "relearn_recovery")} for r in runs
    ]
    out["correct"] = {m: {str(s): v for s, v in by_seed.items()} for m, by_seed in correct.items()}
    Path(args.out).write_text(json.dumps(out, indent=1))


def _paired(correct: dict[str, dict[int, dict[str, list[float]]]], base: str) -> dict[str, Any]:
    """base minus each other method on the seeds both ran (the trained model and retraining excluded)."""
    out: dict[str, Any] = {}
    for m, by_seed in correct.items():
        if m in (base, "backdoored", "retrain") or base not in correct:
            continue
        seeds = sorted(set(by_seed) & set(correct[base]))
        if not seeds:
            continue
        out[m] = {"seeds": seeds}
        for s in PAIRED_SPLITS:
            a = [correct[base][seed][s] for seed in seeds]
            b = [by_seed[seed][s] for seed in seeds]
            out[m][s] = paired_difference(a, b).to_dict()
    return out


if __name__ == "__main__":
    main()
