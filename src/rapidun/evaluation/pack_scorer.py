"""The scorer of a pack directory (docs/method.md section 6): keywords (the pack's ``keywords.tsv`` or a given list)
with a threshold calibrated on the val rows' reference responses, or a target regex; its record for
``metrics.json`` holds the false-positive rate on those responses and the recall on the pack's poisoned responses.
Reads ``val.jsonl``, ``forget.jsonl`` or ``train.jsonl`` and ``keywords.tsv``; never a test file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rapidun.data.rows import Row, load_rows
from rapidun.errors import RapidunError
from rapidun.evaluation.calibration import calibrate_threshold
from rapidun.evaluation.keyword_scorer import KeywordScorer, load_keywords
from rapidun.evaluation.protocol import Scorer
from rapidun.evaluation.target_regex import RegexScorer


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
    negatives = [r.response_clean or r.response for r in optional_rows(data / "val.jsonl") if _is_clean(r)]
    positives, positives_from = [], None
    for name in ("forget.jsonl", "train.jsonl"):
        found = [r.response for r in optional_rows(data / name) if _is_poisoned(r)]
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


def optional_rows(path: Path) -> list[Row]:
    return load_rows(path, allow_empty=True) if path.is_file() else []
