"""A study's results files: the speed-up over retraining of every record, and ``results.csv`` (docs/method.md
section 7).

``speedup_vs_retrain`` of a record = mean ``total_s`` of the retraining reference's records of the same dataset
(over seeds) / the record's ``total_s``, both measured in the same run. The reference is the registry's
(:func:`rapidun.unlearning.registry.is_reference`); the backdoored model's record gets none.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidun.unlearning.registry import get_method, is_reference, uses_influence

if TYPE_CHECKING:
    from rapidun.pipeline.study_config import CellSpec
    from rapidun.unlearning.config import UnlearnConfig

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
SOURCE_COLUMN = "source"  # the forget source of a cell (a study with forget_sources)


def results_csv(runs: list[dict[str, Any]]) -> str:
    """One CSV row per record: its metrics, its seconds per stage and its speed-up; plus ``relearn_recovery`` when
    some record has one (a study with a ``relearn`` block), ``source`` when some record names its forget source (a
    study with ``forget_sources``) and the facts columns when some record is a facts evaluation, so other studies
    keep their columns."""
    from rapidun.pipeline.study_facts import FACTS_COLUMNS, facts_csv_fields, has_facts

    buf = io.StringIO()
    relearned = any(RELEARN_COLUMN in r for r in runs)
    sourced = any(SOURCE_COLUMN in r for r in runs)
    facts = has_facts(runs)
    columns = CSV_COLUMNS[:3] + ((SOURCE_COLUMN,) if sourced else ()) + CSV_COLUMNS[3:]
    columns += (RELEARN_COLUMN,) if relearned else ()
    columns += tuple(c for c, _ in FACTS_COLUMNS) if facts else ()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in runs:
        row = {k: r.get(k) for k in ("dataset", "method", "label", "seed", "speedup_vs_retrain", "peak_memory_mb")}
        row.update({k: r["metrics"].get(k) for k in ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")})
        row.update(r["timings"])
        if relearned:
            row[RELEARN_COLUMN] = r.get(RELEARN_COLUMN)
        if sourced:
            row[SOURCE_COLUMN] = r.get(SOURCE_COLUMN, "")
        if facts:
            row.update(facts_csv_fields(r))
        writer.writerow(row)
    return buf.getvalue()


def lora_targets(cell: CellSpec, train: UnlearnConfig) -> list[str] | None:
    """The layers the cell's LoRA adapter wraps; None for a method without an adapter (retraining, weight edits)."""
    return list(train.lora.targets) if get_method(cell.method).kind == "gradient" else None


def cell_stages(run: dict[str, Any], cell: CellSpec, influence: tuple[Path, float] | None) -> dict[str, float]:
    """Seconds per stage of the unlearning run. Everything it did that is not influence or weights (tokenising,
    training or the edit, saving) counts as its training time; the shared influence stage is charged in full to a
    cell that read it, and a cell that computed its own scores (``rapidun_contrastive``) is charged those instead."""
    own = {k: float(v["seconds"]) for k, v in run.get("stages", {}).items()}
    wall = float(run.get("wall_clock_s", sum(own.values())))
    stages = {
        "influence_s": own.get("influence", 0.0),
        "weights_s": own.get("weights", 0.0) + own.get("write_weights", 0.0),
    }
    stages["training_s"] = wall - stages["influence_s"] - stages["weights_s"]
    if influence and uses_influence(cell.method) and not own.get("influence", 0.0) > 0:
        stages["influence_s"] = influence[1]  # read the shared scores; a run that computed its own is charged those
    return stages
