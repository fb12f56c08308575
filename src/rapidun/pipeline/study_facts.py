"""The facts task in a study (docs/method.md sections 6 and 7): each cell of a facts dataset is evaluated by the
facts metrics of :mod:`rapidun.evaluation.facts`, and once every cell is done, forget quality and PrivLeak are
filled in against the retraining reference.

Reference: the retraining record of the dataset with the smallest seed. Forget quality of a record = KS p-value
of its forget-set truth ratios against the reference's; PrivLeak = (AUC - AUC_ref) / AUC_ref per attack. The
reference itself gets None (a test of a sample against itself says nothing); other retraining seeds get the value
against the reference, the noise floor of forget quality. A cell's own evaluation keeps everything else, so the
reference can be added or changed without evaluating any model again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_jsonl
from rapidun.evaluation.facts import GENERATIONS_FILE, MIA_ATTACKS, FactsEvalConfig, run_facts_eval
from rapidun.evaluation.facts_stats import forget_quality, priv_leak
from rapidun.pipeline.datasets import DatasetState
from rapidun.pipeline.study_config import StudyConfig
from rapidun.unlearning.registry import is_reference

# The flat columns of results.csv for facts records: (column, path into the record's metrics).
FACTS_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("forget_accuracy", ("forget", "accuracy")),
    ("forget_rouge_l", ("forget", "rouge_l_recall")),
    ("forget_quality", ("forget_quality",)),
    ("mia_auc_min_k_plus_plus", ("mia", "min_k_plus_plus", "auc")),
    ("priv_leak_min_k_plus_plus", ("mia", "min_k_plus_plus", "priv_leak")),
    ("pii_leakage", ("pii_leakage", "forget", "rate")),
    ("retain_accuracy", ("retain", "accuracy")),
    ("world_accuracy", ("world", "accuracy")),
    ("holdout_accuracy", ("holdout", "accuracy")),
)


def facts_eval_config(state: DatasetState, cfg: StudyConfig, progress: bool) -> FactsEvalConfig:
    """The study's evaluation settings as facts settings: prompts and scored lengths as the model was trained,
    ``max_eval`` retain rows (a seeded subset fixed across cells)."""
    ev = cfg.evaluation
    return FactsEvalConfig(
        max_new_tokens=ev.max_new_tokens,
        batch_size=ev.batch_size,
        prompt_style=cfg.backdoor.prompt_style,
        max_length=cfg.backdoor.max_length,
        max_retain_rows=ev.max_eval,
        seed=state.spec.seed,
        progress=progress,
    )


def evaluate_facts_cell(
    model: Any, tok: Any, state: DatasetState, cfg: StudyConfig, cell_dir: Path, progress: bool
) -> tuple[dict[str, Any], float]:
    """The facts metrics of the model (forget quality and PrivLeak left None: see :func:`add_facts_references`) and
    the seconds spent; writes the per-row answers and scores to ``cell_dir/facts_generations.jsonl``."""
    assert state.facts is not None
    t0 = time.perf_counter()
    metrics, records = run_facts_eval(model, tok, state.facts, config=facts_eval_config(state, cfg, progress))
    atomic_write_jsonl(cell_dir / GENERATIONS_FILE, records)
    return metrics, time.perf_counter() - t0


def _reference(runs: list[dict[str, Any]], dataset: str) -> dict[str, Any] | None:
    refs = [r for r in runs if r["dataset"] == dataset and is_reference(r["method"]) and _is_facts(r)]
    return min(refs, key=lambda r: r["seed"]) if refs else None


def _is_facts(record: dict[str, Any]) -> bool:
    return record.get("metrics", {}).get("task") == "facts"


def add_facts_references(runs: list[dict[str, Any]]) -> None:
    """Fill ``forget_quality`` and each attack's ``auc_retrained`` / ``priv_leak`` of every facts record (in place)
    against its dataset's reference (module docstring); records of datasets without retraining keep None."""
    for dataset in {r["dataset"] for r in runs if _is_facts(r)}:
        ref = _reference(runs, dataset)
        if ref is None:
            continue
        ref_ratios = _finite(ref["metrics"]["forget"]["truth_ratios"])
        for r in runs:
            if r["dataset"] != dataset or not _is_facts(r) or r is ref:
                continue
            m = r["metrics"]
            m["forget_quality"] = forget_quality(_finite(m["forget"]["truth_ratios"]), ref_ratios)
            m["reference"] = {"method": ref["method"], "seed": ref["seed"]}
            for attack in MIA_ATTACKS:
                ref_auc = ref["metrics"]["mia"][attack]["auc"]
                auc = m["mia"][attack]["auc"]
                m["mia"][attack]["auc_retrained"] = ref_auc
                m["mia"][attack]["priv_leak"] = priv_leak(auc, ref_auc) if ref_auc else None


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v == v]


def facts_csv_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The :data:`FACTS_COLUMNS` of one record (None where it has no such metric, e.g. a backdoor record)."""
    out: dict[str, Any] = {}
    for column, path in FACTS_COLUMNS:
        value: Any = record.get("metrics", {})
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out[column] = value
    return out


def has_facts(runs: list[dict[str, Any]]) -> bool:
    return any(_is_facts(r) for r in runs)


def facts_summary(runs: list[dict[str, Any]]) -> str:
    """A plain-text table of the facts records: method, seed and the :data:`FACTS_COLUMNS` (3 significant digits: forget quality spans many decades)."""
    header = ["dataset", "method", "seed", *(c for c, _ in FACTS_COLUMNS)]
    lines = [header]
    for r in runs:
        if _is_facts(r):
            values = facts_csv_fields(r).values()
            cells = ["-" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v) for v in values]
            method = f"{r['method']}~{r['label']}" if r.get("label") else r["method"]
            lines.append([r["dataset"], method, str(r["seed"]), *cells])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)
