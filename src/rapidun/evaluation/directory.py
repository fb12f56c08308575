"""Evaluate a model on a pack directory (``rapidun poison`` output) and write ``generations.jsonl``, ``metrics.json``
and ``manifest.json`` (in that order, each atomically; the manifest marks the directory finished).

Reads ``test_seen.jsonl``, ``test_ood.jsonl``, ``test_clean.jsonl`` (required), ``val.jsonl`` (keyword threshold
calibration), ``forget.jsonl`` or ``train.jsonl`` (poisoned responses, for the scorer's recall) and ``keywords.tsv``
(default keyword list). Row limits are deterministic: ``first`` takes the first N rows of a file; ``seeded`` takes a
seeded random subset of N rows kept in file order (the default: test files are often grouped by trigger family).
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.artifacts import (
    atomic_write_json,
    atomic_write_jsonl,
    clear_manifest,
    ensure_dir,
    read_manifest,
    write_manifest,
)
from rapidun.costs import CostLedger
from rapidun.data.rows import Row, load_rows, rows_hash
from rapidun.errors import RapidunError
from rapidun.evaluation.backdoor import evaluate_backdoor
from rapidun.evaluation.calibration import DEFAULT_TARGET_FPR, calibrate_threshold
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.evaluation.keyword_scorer import KeywordScorer, load_keywords
from rapidun.evaluation.protocol import Scorer
from rapidun.evaluation.target_regex import RegexScorer
from rapidun.modeling.device import resolve_device

log = logging.getLogger(__name__)

TEST_FILES = {"seen": "test_seen.jsonl", "ood": "test_ood.jsonl", "clean": "test_clean.jsonl"}
SUBSET_MODES = ("seeded", "first")


def select_rows(rows: Sequence[Row], limit: int | None, mode: str = "seeded", seed: int = 0) -> list[Row]:
    """At most ``limit`` rows, deterministically: the first ``limit`` or a seeded subset kept in file order."""
    if mode not in SUBSET_MODES:
        raise RapidunError(f"unknown subset mode '{mode}'; choose one of {', '.join(SUBSET_MODES)}")
    if limit is None or limit >= len(rows):
        return list(rows)
    if limit < 1:
        raise RapidunError(f"row limit must be >= 1, got {limit}; fix --max-eval or the per-split limit")
    if mode == "first":
        return list(rows[:limit])
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def _is_clean(row: Row) -> bool:
    return not row.is_poisoned and row.trigger_family is None


def _is_poisoned(row: Row) -> bool:
    return bool(row.is_poisoned) or row.trigger_family is not None


def build_dir_scorer(
    data: Path,
    keywords_file: str | os.PathLike[str] | None,
    target_regex: str | None,
    threshold: int | None,
    target_fpr: float,
) -> tuple[Scorer, dict[str, Any]]:
    """The scorer for a pack plus its record for ``metrics.json``: keyword threshold calibrated on the val rows'
    reference responses unless ``threshold`` is given (see :mod:`.calibration`); ``val_fpr`` and the recall on the
    pack's poisoned responses are measured for either scorer kind."""
    if keywords_file is not None and target_regex is not None:
        raise RapidunError("give either --keywords or --target-regex, not both")
    if threshold is not None and threshold < 1:
        raise RapidunError(f"--threshold must be >= 1 (distinct keyword hits), got {threshold}")
    negatives = [r.response_clean or r.response for r in _optional_rows(data / "val.jsonl") if _is_clean(r)]
    positives, positives_from = [], None
    for name in ("forget.jsonl", "train.jsonl"):
        found = [r.response for r in _optional_rows(data / name) if _is_poisoned(r)]
        if found:
            positives, positives_from = found, name
            break
    scorer: Scorer
    table = None
    if target_regex is not None:
        scorer = RegexScorer(target_regex)
    else:
        path = Path(keywords_file) if keywords_file is not None else data / "keywords.tsv"
        if keywords_file is None and not path.is_file():
            raise RapidunError(
                f"no scorer: '{data}' has no keywords.tsv; pass --keywords FILE (e.g. the released "
                "keywords_scored_top1000.tsv) or --target-regex R"
            )
        kw = KeywordScorer(load_keywords(path), threshold or 1, str(path))
        if threshold is None:
            if not negatives:
                raise RapidunError(
                    f"cannot calibrate the keyword threshold: '{data / 'val.jsonl'}' is missing or "
                    "has no clean rows; add it or pass --threshold T"
                )
            cal = calibrate_threshold(kw, negatives, positives or None, target_fpr=target_fpr)
            kw.threshold, table = cal.threshold, cal.table
        scorer = kw
    record = dict(scorer.describe())
    val_fpr = sum(scorer(t) for t in negatives) / len(negatives) if negatives else None
    recall = sum(scorer(t) for t in positives) / len(positives) if positives else None
    record.update(
        {
            "val_fpr": val_fpr,
            "val_fpr_on": "val reference responses",
            "calibration_table": table,
            "n_val": len(negatives),
            "threshold_rule": None
            if target_regex is not None
            else (
                "given (--threshold)"
                if threshold is not None
                else f"smallest t >= 1 with FPR on val reference responses <= {target_fpr}"
            ),
            "target_fpr": target_fpr if target_regex is None and threshold is None else None,
            "positive_recall": recall,
            "n_positive": len(positives),
            "positives_from": positives_from,
        }
    )
    return scorer, record


def _optional_rows(path: Path) -> list[Row]:
    return load_rows(path, allow_empty=True) if path.is_file() else []


def evaluate_dir(
    model_spec: str,
    data_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    adapter: str | None = None,
    keywords_file: str | os.PathLike[str] | None = None,
    target_regex: str | None = None,
    threshold: int | None = None,
    target_fpr: float = DEFAULT_TARGET_FPR,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
    prompt_style: str = "alpaca",
    max_eval: int | None = None,
    limits: dict[str, int | None] | None = None,
    subset: str = "seeded",
    seed: int = 0,
    trust_remote_code: bool = False,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``model_spec`` (+ ``adapter``) on the pack in ``data_dir``; returns the ``metrics.json`` dict.

    ``limits`` maps ``seen``/``ood``/``clean``/``ppl`` to a row cap (default ``max_eval``). A finished ``out_dir``
    with the same settings is reused unless ``overwrite``.
    """
    from rapidun.modeling.load import load_model

    data, out = Path(data_dir), Path(out_dir)
    if not data.is_dir():
        raise RapidunError(f"--data '{data}' is not a directory; pass the --out directory of 'rapidun poison'")
    missing = [name for name in TEST_FILES.values() if not (data / name).is_file()]
    if missing:
        raise RapidunError(f"--data '{data}' lacks {', '.join(missing)}; pass a pack made by 'rapidun poison'")
    caps = {split: (limits or {}).get(split, max_eval) for split in ("seen", "ood", "clean", "ppl")}
    config = {
        "model": model_spec,
        "adapter": adapter,
        "data": str(data.resolve()),
        "keywords_file": str(keywords_file) if keywords_file else None,
        "target_regex": target_regex,
        "threshold": threshold,
        "target_fpr": target_fpr,
        "max_new_tokens": max_new_tokens,
        "prompt_style": prompt_style,
        "limits": caps,
        "subset": subset,
        "seed": seed,
    }
    done = read_manifest(out)
    if done is not None and not overwrite:
        if done.get("config") == config and (out / "metrics.json").is_file():
            log.info("%s: evaluation already finished with these settings; reusing it (--overwrite to redo)", out)
            return dict(json.loads((out / "metrics.json").read_text(encoding="utf-8")))
        raise RapidunError(f"--out '{out}' holds an evaluation with other settings; pass --overwrite or another --out")
    ensure_dir(out)
    clear_manifest(out)

    full = {split: load_rows(data / name) for split, name in TEST_FILES.items()}
    for split in ("seen", "ood"):
        if not any(r.trigger_family for r in full[split]):
            log.warning(
                "%s: no row has 'trigger_family'; per-family results will be under 'none'", data / TEST_FILES[split]
            )
    rows = {split: select_rows(full[split], caps[split], subset, seed) for split in TEST_FILES}
    ppl_rows = select_rows(full["clean"], caps["ppl"], subset, seed)
    scorer, scorer_record = build_dir_scorer(data, keywords_file, target_regex, threshold, target_fpr)

    corpus_file = data / "train.jsonl" if (data / "train.jsonl").is_file() else data / TEST_FILES["clean"]
    corpus = [f"{r.instruction} {r.context} {r.response}" for r in _optional_rows(corpus_file)]
    ledger = CostLedger()
    with ledger.stage("load_model"):
        loaded = load_model(
            model_spec,
            corpus=corpus,
            adapter=adapter,
            trust_remote_code=trust_remote_code,
            device=resolve_device(device),
            seed=seed,
        )
    with ledger.stage("evaluate"):
        result = evaluate_backdoor(
            loaded.model,
            loaded.tokenizer,
            test_seen=rows["seen"],
            test_ood=rows["ood"],
            test_clean=rows["clean"],
            ppl_rows=ppl_rows,
            scorer=scorer,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            prompt_style=prompt_style,
            progress=progress,
            seed=seed,
        )
    result.extra["cost"] = ledger.to_dict()
    result.scorer = scorer_record
    result.extra["subset"] = {
        "mode": subset,
        "seed": seed,
        "limits": caps,
        "available": {split: len(full[split]) for split in TEST_FILES},
    }
    result.extra["data"] = str(data)
    metrics = result.metrics(model=model_spec, adapter=adapter)
    atomic_write_jsonl(out / "generations.jsonl", result.generations)
    atomic_write_json(out / "metrics.json", metrics)
    write_manifest(
        out,
        {
            "stage": "evaluate",
            "config": config,
            "files": ["generations.jsonl", "metrics.json"],
            "rows_hash": {**{s: rows_hash(r) for s, r in rows.items()}, "ppl": rows_hash(ppl_rows)},
            "seconds": result.seconds,
        },
    )
    return metrics
