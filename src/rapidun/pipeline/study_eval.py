"""Evaluation of one study cell: the test metrics (``cell.json``) and the per-prompt outcomes (``outcomes.json``)
on the test splits and, when the pack has them, on its validation prompts (docs/method.md section 7).

``outcomes.json`` = ``{"test": OUTCOMES, "val": OUTCOMES | null, "samples": SAMPLES}`` with OUTCOMES as in
:func:`rapidun.evaluation.outcomes.eval_outcomes`: per prompt 1/0 success on ``seen``/``ood``/``clean`` and per
perplexity row its NLL sum and token count; SAMPLES (:func:`eval_samples`) keeps the text of the first
``SAMPLES_PER_SPLIT`` test prompts of each split and the model's answers, the report's before/after examples. Validation outcomes are what every choice of a study reads (the
frontier's operating points); test outcomes are only reported. It is written before ``cell.json``, which stays the
mark that a cell is done.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json
from rapidun.errors import RapidunError
from rapidun.evaluation import evaluate_backdoor
from rapidun.evaluation.outcomes import eval_outcomes
from rapidun.pipeline.datasets import DatasetState, EvalRows
from rapidun.pipeline.study_config import StudyConfig

log = logging.getLogger(__name__)
OUTCOMES_FILE = "outcomes.json"
CELL_FILE = "cell.json"
# Test prompts per split whose text and answer are kept: the same rows for every cell (a study fixes the test
# subset), so the report can show one prompt answered by each model. A few, to keep outcomes.json small.
SAMPLES_PER_SPLIT = 8


def _run(model: Any, tok: Any, rows: EvalRows, state: DatasetState, cfg: StudyConfig, progress: bool) -> Any:
    ev = cfg.evaluation
    assert state.scorer is not None  # a backdoor dataset's state always has one
    return evaluate_backdoor(
        model,
        tok,
        test_seen=rows.seen,
        test_ood=rows.ood,
        test_clean=rows.clean,
        scorer=state.scorer,
        max_new_tokens=ev.max_new_tokens,
        batch_size=ev.batch_size,
        prompt_style=cfg.backdoor.prompt_style,
        max_length=cfg.backdoor.max_length,  # prompts and perplexity at the length the model was trained at
        progress=progress,
    )


def eval_samples(res: Any, rows: EvalRows, n: int = SAMPLES_PER_SPLIT) -> dict[str, list[dict[str, Any]]]:
    """The first ``n`` prompts of each test split (``seen``, ``ood``, ``clean``) with the greedy answer of the
    evaluated model: ``{split: [{"instruction", "context", "family", "variant", "output", "success"}]}``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for split, split_rows in (("seen", rows.seen), ("ood", rows.ood), ("clean", rows.clean)):
        gens = [g for g in res.generations if g["split"] == split]  # in row order, one per row
        out[split] = [
            {
                "instruction": row.instruction,
                "context": row.context,
                "family": row.trigger_family,
                "variant": row.trigger_variant,
                "output": gen["output"],
                "success": bool(gen["success"]),
            }
            for row, gen in list(zip(split_rows, gens, strict=False))[:n]
        ]
    return out


def evaluate_cell(
    model: Any, tok: Any, state: DatasetState, cfg: StudyConfig, cell_dir: Path, progress: bool
) -> tuple[dict[str, Any], float]:
    """Test metrics of the model and the seconds spent evaluating (test and validation); writes
    ``cell_dir/outcomes.json`` (a facts dataset: the facts metrics, :mod:`rapidun.pipeline.study_facts`)."""
    if state.facts is not None:
        from rapidun.pipeline.study_facts import evaluate_facts_cell

        return evaluate_facts_cell(model, tok, state, cfg, cell_dir, progress)
    assert state.rows is not None
    t0 = time.perf_counter()
    res = _run(model, tok, state.rows, state, cfg, progress)
    metrics = res.metrics()
    metrics["scorer"] = {**state.scorer_record, **metrics.get("scorer", {})}
    val = None
    if cfg.validation and state.val_rows is not None:
        val = eval_outcomes(_run(model, tok, state.val_rows, state, cfg, progress))
    samples = eval_samples(res, state.rows)
    atomic_write_json(cell_dir / OUTCOMES_FILE, {"test": eval_outcomes(res), "val": val, "samples": samples})
    return metrics, time.perf_counter() - t0


def test_metrics(model: Any, tok: Any, state: DatasetState, cfg: StudyConfig, progress: bool) -> dict[str, Any]:
    """The cell's headline test metrics of ``model`` (ASR seen / OOD, false-trigger rate, clean perplexity, counts),
    computed exactly as :func:`evaluate_cell` computes them, with nothing written. Backdoor datasets only (a study
    refuses a sequential block on a facts dataset before any work)."""
    assert state.rows is not None
    metrics = _run(model, tok, state.rows, state, cfg, progress).metrics()
    return {k: metrics[k] for k in ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl", "counts")}


def read_outcomes(cell_dir: Path) -> dict[str, Any] | None:
    """A cell's stored outcomes, or None when it has none (a cell finished before outcomes were kept)."""
    path = cell_dir / OUTCOMES_FILE
    return dict(json.loads(path.read_text())) if path.is_file() else None


def finished_cell(
    cell_dir: Path, load: Callable[[], Any], state: DatasetState, cfg: StudyConfig, progress: bool
) -> dict[str, Any]:
    """The record of a finished cell. In a study with a frontier, a cell finished before outcomes were kept is
    evaluated again from its saved model (``load()``) and its ``cell.json`` rewritten, so metrics and outcomes
    come from one evaluation; other studies reuse such a cell as it is (a rerun stays cheap and its numbers fixed)."""
    record = dict(json.loads((cell_dir / CELL_FILE).read_text()))
    if (cell_dir / OUTCOMES_FILE).is_file() or cfg.frontier is None:
        return record
    try:
        loaded = load()
    except (OSError, RapidunError) as exc:
        log.warning(
            "%s has no %s and its model cannot be loaded (%s); it stays off the frontier", cell_dir, OUTCOMES_FILE, exc
        )
        return record
    log.info("%s: evaluating again to keep per-prompt outcomes", cell_dir)
    metrics, seconds = evaluate_cell(loaded.model, loaded.tokenizer, state, cfg, cell_dir, progress)
    record["metrics"] = metrics
    record["timings"]["evaluation_s"] = seconds
    atomic_write_json(cell_dir / CELL_FILE, record)
    return record
