"""A study's results files: the speed-up over retraining of every record, and ``results.csv`` (docs/method.md
section 7).

``speedup_vs_retrain`` of a record = mean ``total_s`` of the retraining reference's records of the same dataset
(over seeds) / the record's ``total_s``, both measured in the same run. The reference is the registry's
(:func:`rapidun.unlearning.registry.is_reference`); the backdoored model's record gets none.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from rapidun.unlearning.registry import is_reference

# The record of the model before unlearning (not a method): the study's starting point, evaluated like a cell.
BACKDOORED = "backdoored"


def add_speedups(runs: list[dict[str, Any]]) -> None:
    """Fill ``speedup_vs_retrain`` from the same run's retraining records (mean over seeds, per dataset)."""
    for ds in {r["dataset"] for r in runs}:
        ref = [r["timings"]["total_s"] for r in runs if r["dataset"] == ds and is_reference(r["method"])]
        if not ref:
            continue
        mean_ref = sum(ref) / len(ref)
        for r in runs:
            if r["dataset"] == ds and r["method"] != BACKDOORED and r["timings"]["total_s"] > 0:
                r["speedup_vs_retrain"] = mean_ref / r["timings"]["total_s"]


CSV_COLUMNS = (
    "dataset",
    "method",
    "label",
    "seed",
    "asr_seen",
    "asr_ood",
    "false_trigger_rate",
    "clean_ppl",
    "influence_s",
    "weights_s",
    "training_s",
    "evaluation_s",
    "total_s",
    "speedup_vs_retrain",
    "peak_memory_mb",
)


RELEARN_COLUMN = "relearn_recovery"


def results_csv(runs: list[dict[str, Any]]) -> str:
    """One CSV row per record: its metrics, its seconds per stage and its speed-up; plus ``relearn_recovery`` when
    some record has one (a study with a ``relearn`` block) and the facts columns when some record is a facts
    evaluation, so other studies keep their columns."""
    from rapidun.pipeline.study_facts import FACTS_COLUMNS, facts_csv_fields, has_facts

    buf = io.StringIO()
    relearned = any(RELEARN_COLUMN in r for r in runs)
    facts = has_facts(runs)
    columns = (
        CSV_COLUMNS + ((RELEARN_COLUMN,) if relearned else ()) + (tuple(c for c, _ in FACTS_COLUMNS) if facts else ())
    )
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in runs:
        row = {k: r.get(k) for k in ("dataset", "method", "label", "seed", "speedup_vs_retrain", "peak_memory_mb")}
        row.update({k: r["metrics"].get(k) for k in ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")})
        row.update(r["timings"])
        if relearned:
            row[RELEARN_COLUMN] = r.get(RELEARN_COLUMN)
        if facts:
            row.update(facts_csv_fields(r))
        writer.writerow(row)
    return buf.getvalue()
