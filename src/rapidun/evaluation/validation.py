"""Checkpoint selection reads validation rows only (docs/method.md section 6): no choice is made on a test split.

:func:`validation_eval_fn` builds the ``eval_fn(model) -> metrics`` that unlearning's evaluate-every-N-steps and
best-checkpoint rule (:mod:`rapidun.unlearning.selection`) call, from a pack's validation files: ``val_seen.jsonl``
and ``val_ood.jsonl`` (the val rows with each family's seen / OOD trigger, written by ``rapidun poison``) for the
attack success rates, and the clean ``val.jsonl`` for the false-trigger rate and perplexity. The keyword threshold is
calibrated on the val reference responses as in :func:`rapidun.evaluation.directory.build_dir_scorer`. The test
files are never opened here: they are only reported, by ``rapidun evaluate``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rapidun.data.rows import Row, load_rows
from rapidun.errors import RapidunError
from rapidun.evaluation.backdoor import evaluate_backdoor
from rapidun.evaluation.calibration import DEFAULT_TARGET_FPR
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.evaluation.directory import select_rows
from rapidun.evaluation.pack_scorer import build_dir_scorer

VAL_FILES = {"seen": "val_seen.jsonl", "ood": "val_ood.jsonl", "clean": "val.jsonl"}
SELECTION_METRICS = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl", "seconds")


def validation_rows(data_dir: str | os.PathLike[str], max_rows: int | None, seed: int) -> dict[str, list[Row]]:
    """Split name (``seen``, ``ood``, ``clean``) -> at most ``max_rows`` rows of the pack's validation files (a
    seeded subset in file order, :func:`rapidun.evaluation.directory.select_rows`)."""
    data = Path(data_dir)
    if not data.is_dir():
        raise RapidunError(f"--eval-data '{data}' is not a directory; pass the --out directory of 'rapidun poison'")
    missing = [name for name in VAL_FILES.values() if not (data / name).is_file()]
    if missing:
        raise RapidunError(
            f"--eval-data '{data}' lacks {', '.join(missing)} (checkpoints are selected on validation rows only); "
            "rerun 'rapidun poison' with the same settings to add them"
        )
    rows = {split: load_rows(data / name) for split, name in VAL_FILES.items()}
    return {split: select_rows(r, max_rows, "seeded", seed) for split, r in rows.items()}


def validation_eval_fn(
    data_dir: str | os.PathLike[str],
    tokenizer: Any,
    *,
    keywords_file: str | os.PathLike[str] | None = None,
    max_rows: int | None = 100,
    seed: int = 0,
    prompt_style: str = "alpaca",
    max_length: int | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
) -> Callable[[Any], dict[str, Any]]:
    """``eval_fn(model)`` -> ``{asr_seen, asr_ood, false_trigger_rate, clean_ppl, seconds}`` on the validation
    rows of the pack in ``data_dir`` (at most ``max_rows`` per split). Rows and the scorer are read once, here,
    before any training step; ``max_length`` is the training length prompts and perplexity rows are capped at."""
    rows = validation_rows(data_dir, max_rows, seed)
    scorer, _ = build_dir_scorer(Path(data_dir), keywords_file, None, None, DEFAULT_TARGET_FPR)

    def eval_fn(model: Any) -> dict[str, Any]:
        result = evaluate_backdoor(
            model,
            tokenizer,
            test_seen=rows["seen"],
            test_ood=rows["ood"],
            test_clean=rows["clean"],
            scorer=scorer,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            prompt_style=prompt_style,
            max_length=max_length,
            progress=False,
            seed=seed,
        )
        metrics = result.metrics()
        out = {key: metrics[key] for key in SELECTION_METRICS}
        # counts and successes let the backdoor check (evaluation.trigger_check) judge the step-0 model
        out |= {key: {s: metrics[key][s] for s in ("seen", "clean")} for key in ("counts", "successes")}
        return out

    return eval_fn
