"""What the relearning check reads and measures for each task a pack can hold (``meta.json`` "task").

A task is three plain functions in :data:`RELEARN_TASKS`: ``load`` reads the pack's rows before any model is loaded
(so bad input fails first), ``benign`` turns forget rows into related benign rows (the ``--benign`` source), and
``evaluate`` measures the task's metrics on an in-memory model. ``main_metric`` is the metric whose recovery is the
headline (docs/method.md section 6):

- ``backdoor``: ASR on the seen triggers (``asr_seen``), plus OOD ASR, false-trigger rate, clean perplexity and the
  forget loss (mean token-mean response cross-entropy on the forget rows, the quantity the relearning lowers).
- ``facts``: forget-set answer accuracy (normalised exact match), plus ROUGE-L recall and the forget loss; the
  benign rows are questions of the same attributes about retain people. Per-row correctness is kept, so the
  recovery is also reported on the forget questions the relearning did not train on (``heldout``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rapidun.data.rows import Row, load_rows
from rapidun.data.tokenize import collate, encode_rows
from rapidun.errors import RapidunError
from rapidun.evaluation.backdoor import evaluate_backdoor
from rapidun.evaluation.calibration import DEFAULT_TARGET_FPR
from rapidun.evaluation.directory import TEST_FILES, build_dir_scorer, select_rows
from rapidun.modeling.loss import per_sample_loss
from rapidun.pipeline.relearn_config import RelearnConfig

log = logging.getLogger(__name__)

DEFAULT_TASK = "backdoor"  # packs written before meta.json named its task are backdoor packs (rapidun poison)
EVAL_SUBSET_SEED = 0  # the row subset of `rapidun evaluate --seed 0`, so passed-in metrics.json files compare


@dataclass
class TaskData:
    """A pack's rows as one task reads them: the forget rows (``forget_file``), the evaluation rows per split and
    the task's scorer (None when the task scores without one)."""

    forget: list[Row]
    forget_file: Path
    eval_rows: dict[str, list[Row]]
    scorer: Any = None
    scorer_record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RelearnTask:
    """One task of :data:`RELEARN_TASKS`. ``recovery_metrics`` are the forget metrics whose recovery is reported
    (``main_metric`` first); each must be a key of ``evaluate``'s dict."""

    name: str
    main_metric: str
    recovery_metrics: tuple[str, ...]
    load: Callable[[Path, RelearnConfig], TaskData]
    benign: Callable[[Sequence[Row], Path], list[Row]]
    evaluate: Callable[[Any, Any, TaskData, RelearnConfig, bool], dict[str, Any]]


def pack_task(pack_dir: Path) -> str:
    """The task named by ``pack_dir/meta.json`` ("task"), ``backdoor`` when the file or the key is absent."""
    meta = pack_dir / "meta.json"
    if not meta.is_file():
        return DEFAULT_TASK
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RapidunError(f"--data '{pack_dir}': unreadable meta.json ({exc}); rebuild the pack") from exc
    task = data.get("task", DEFAULT_TASK) if isinstance(data, dict) else DEFAULT_TASK
    if task not in RELEARN_TASKS:
        raise RapidunError(
            f"--data '{pack_dir}': meta.json names task '{task}', which relearning does not know; "
            f"known tasks: {', '.join(RELEARN_TASKS)}"
        )
    return str(task)


def read_forget_rows(pack_dir: Path, cfg: RelearnConfig) -> tuple[list[Row], Path]:
    path = pack_dir / f"{cfg.forget_split}.jsonl"
    if not path.is_file():
        raise RapidunError(
            f"--data '{pack_dir}' has no {path.name}; pass a pack with forget rows or fix --forget-split"
        )
    rows = load_rows(path, allow_empty=True)
    if not rows:
        raise RapidunError(f"'{path}' holds no rows: there is nothing to relearn; pass a pack with forget rows")
    return rows, path


def load_backdoor(pack_dir: Path, cfg: RelearnConfig) -> TaskData:
    """Forget rows, the three test splits (capped at ``eval_max`` rows, the subset of ``rapidun evaluate``) and the
    pack's keyword scorer calibrated on its val rows, exactly as ``rapidun evaluate`` builds it."""
    forget, forget_file = read_forget_rows(pack_dir, cfg)
    missing = [name for name in TEST_FILES.values() if not (pack_dir / name).is_file()]
    if missing:
        raise RapidunError(f"--data '{pack_dir}' lacks {', '.join(missing)}; pass a pack made by 'rapidun poison'")
    rows = {
        split: select_rows(load_rows(pack_dir / name), cfg.eval_max, "seeded", EVAL_SUBSET_SEED)
        for split, name in TEST_FILES.items()
    }
    rows["forget"] = select_rows(forget, cfg.eval_max, "seeded", EVAL_SUBSET_SEED)
    scorer, record = build_dir_scorer(pack_dir, None, None, None, DEFAULT_TARGET_FPR)
    return TaskData(forget, forget_file, rows, scorer, record)


def backdoor_benign(rows: Sequence[Row], where: Path) -> list[Row]:
    """The forget prompts (trigger included) with their clean answers: related rows without the backdoor."""
    out = []
    for i, row in enumerate(rows):
        if not row.response_clean:
            raise RapidunError(
                f"'{where}': a chosen forget row ({row.instruction[:40]!r}, #{i} of the relearning share) has no "
                "response_clean, so --benign has no clean answer to train on; drop --benign or add response_clean"
            )
        out.append(replace(row, response=row.response_clean, is_poisoned=False))
    return out


@torch.no_grad()
def forget_loss(model: Any, tokenizer: Any, rows: Sequence[Row], cfg: RelearnConfig) -> float | None:
    """Mean over ``rows`` of the token-mean response cross-entropy (the training loss of
    :func:`rapidun.modeling.loss.per_sample_loss`); None when no row fits ``max_length``."""
    examples = encode_rows(rows, tokenizer, cfg.max_length, cfg.prompt_style, name="forget").examples
    if not examples:
        return None
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(examples), cfg.eval_batch_size):
        batch = collate(examples[start : start + cfg.eval_batch_size], tokenizer.pad_token_id)
        total += float(per_sample_loss(model, batch).sum())
    model.train(was_training)
    return total / len(examples)


def evaluate_backdoor_task(
    model: Any, tokenizer: Any, data: TaskData, cfg: RelearnConfig, progress: bool
) -> dict[str, Any]:
    """The metrics of ``rapidun evaluate`` (same scorer, rows and decoding) plus ``forget_loss``."""
    res = evaluate_backdoor(
        model,
        tokenizer,
        test_seen=data.eval_rows["seen"],
        test_ood=data.eval_rows["ood"],
        test_clean=data.eval_rows["clean"],
        scorer=data.scorer,
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.eval_batch_size,
        prompt_style=cfg.prompt_style,
        progress=progress,
        seed=EVAL_SUBSET_SEED,
    )
    metrics = res.metrics()
    out = {k: metrics[k] for k in ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl", "counts")}
    out["forget_loss"] = forget_loss(model, tokenizer, data.eval_rows["forget"], cfg)
    return out


def load_facts(pack_dir: Path, cfg: RelearnConfig) -> TaskData:
    """The facts pack's forget rows (checked as ``rapidun evaluate`` checks them) and, as the evaluation rows, the
    same rows capped at ``eval_max`` (the seeded subset of ``rapidun evaluate --seed 0``)."""
    from rapidun.data.facts import check_facts_rows, load_facts_pack

    load_facts_pack(pack_dir)  # a backdoor pack, an unfinished pack or incomplete rows fail here, before a model
    forget, forget_file = read_forget_rows(pack_dir, cfg)
    check_facts_rows(forget, forget_file, pack_dir)
    return TaskData(forget, forget_file, {"forget": select_rows(forget, cfg.eval_max, "seeded", EVAL_SUBSET_SEED)})


def facts_benign(rows: Sequence[Row], where: Path) -> list[Row]:
    """Related benign rows for facts: for each chosen forget row, a question of the same attribute about a person of
    the pack's retain split (same format and kind of knowledge, none of the forgotten facts), picked in file order
    so that the choice is reproducible."""
    retain_path = where.parent / "retain.jsonl"
    if not retain_path.is_file():
        raise RapidunError(f"'{where.parent}' has no retain.jsonl for --benign; rebuild the facts pack")
    by_attribute: dict[str, list[Row]] = {}
    for row in load_rows(retain_path):
        if row.extra.get("group") != "world":
            by_attribute.setdefault(str(row.extra.get("attribute")), []).append(row)
    out, used = [], dict.fromkeys(by_attribute, 0)
    for row in rows:
        attribute = str(row.extra.get("attribute"))
        pool = by_attribute.get(attribute)
        if not pool:
            raise RapidunError(f"'{retain_path}' has no retain row with attribute '{attribute}' for --benign")
        out.append(pool[used[attribute] % len(pool)])
        used[attribute] += 1
    return out


def evaluate_facts(model: Any, tokenizer: Any, data: TaskData, cfg: RelearnConfig, progress: bool) -> dict[str, Any]:
    """Forget-set answer accuracy (normalised exact match of the greedy answer, as ``rapidun evaluate`` scores a facts
    pack), ROUGE-L recall of the answer and the forget loss, on the evaluation rows."""
    from rapidun.evaluation.facts_answers import answer_questions

    rows = data.eval_rows["forget"]
    answers = answer_questions(
        model,
        tokenizer,
        rows,
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.eval_batch_size,
        prompt_style=cfg.prompt_style,
        progress=progress,
        desc="facts-forget",
    )
    return {
        "forget_accuracy": answers.accuracy or 0.0,
        # per evaluation row, for the recovery on the rows relearning did not train on
        "forget_correct": [float(c) for c in answers.correct],
        "forget_rouge_l": answers.mean_rouge_l_recall or 0.0,
        "forget_loss": forget_loss(model, tokenizer, rows, cfg),
        "counts": {"forget": len(rows)},
    }


def pack_evaluator(
    pack_dir: str | Path, tokenizer: Any, cfg: RelearnConfig, progress: bool = False
) -> Callable[[Any], dict[str, Any]]:
    """``evaluate(model) -> metrics`` of the pack's task (rows read once, here), e.g. for sequential requests."""
    pack = Path(pack_dir)
    task = RELEARN_TASKS[pack_task(pack)]
    data = task.load(pack, cfg)
    return lambda model: task.evaluate(model, tokenizer, data, cfg, progress)


RELEARN_TASKS: dict[str, RelearnTask] = {
    "backdoor": RelearnTask(
        name="backdoor",
        main_metric="asr_seen",
        recovery_metrics=("asr_seen", "asr_ood", "forget_loss"),
        load=load_backdoor,
        benign=backdoor_benign,
        evaluate=evaluate_backdoor_task,
    ),
    "facts": RelearnTask(
        name="facts",
        main_metric="forget_accuracy",
        recovery_metrics=("forget_accuracy", "forget_rouge_l", "forget_loss"),
        load=load_facts,
        benign=facts_benign,
        evaluate=evaluate_facts,
    ),
}
