"""What the relearning check reads and measures for each task a pack can hold (``meta.json`` "task").

A task is three plain functions in :data:`RELEARN_TASKS`: ``load`` reads the pack's rows before any model is loaded
(so bad input fails first), ``benign`` turns forget rows into related benign rows (the ``--benign`` source), and
``evaluate`` measures the task's metrics on an in-memory model. ``main_metric`` is the metric whose recovery is the
headline (docs/method.md section 6):

- ``backdoor``: ASR on the seen triggers (``asr_seen``), plus OOD ASR, false-trigger rate, clean perplexity and the
  forget loss (mean token-mean response cross-entropy on the forget rows, the quantity the relearning lowers).
- ``facts``: forget-set answer accuracy; the hook :func:`evaluate_facts` waits for the facts evaluation.
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


def _facts_pending(*_: Any) -> Any:
    raise RapidunError(
        "relearning on a facts pack needs the facts evaluation (forget accuracy), which is not wired into "
        "rapidun relearn yet; use a backdoor pack"
    )


def evaluate_facts(model: Any, tokenizer: Any, data: TaskData, cfg: RelearnConfig, progress: bool) -> dict[str, Any]:
    """Hook for facts packs: must return at least ``forget_accuracy`` (normalised exact match of greedy answers on
    the forget rows) and may add ``forget_rouge_l`` and ``forget_loss``. Wire it to the facts evaluation and give
    the entry a ``load`` and a ``benign`` source (e.g. the forget people's paraphrased questions)."""
    return dict(_facts_pending())


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
        recovery_metrics=("forget_accuracy",),
        load=_facts_pending,
        benign=_facts_pending,
        evaluate=evaluate_facts,
    ),
}
