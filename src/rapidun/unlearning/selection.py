"""Evaluation during training and best-checkpoint selection.

The caller passes ``eval_fn(model) -> dict of metrics`` (unlearning does not import the evaluation stage). The
model is evaluated before training (step 0, the reference) and every ``eval_every`` steps and at the last step.
Rule (recorded in ``run.json``): among evaluations after step 0 whose ``constraint_metric`` (clean perplexity)
is <= (1 + tolerance) x its step-0 value, the lowest ``select_metric`` (seen-trigger ASR) wins; ties go to the
lower constraint value, then the earlier step. If none qualifies the final state is kept and the run says so.

Evaluations and the best LoRA state are persisted in the run directory (``evaluations.json``,
``best_state.safetensors``) so a resumed run keeps them; evaluations after the resumed step are redone.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rapidun.artifacts import atomic_write_json
from rapidun.errors import RapidunError
from rapidun.training.checkpoint import trainable_state

log = logging.getLogger(__name__)

EvalFn = Callable[[Any], dict[str, Any]]
EVALS_FILE = "evaluations.json"
BEST_FILE = "best_state.safetensors"


@dataclass(frozen=True)
class SelectionRule:
    select_metric: str = "asr_seen"
    constraint_metric: str = "clean_ppl"
    tolerance: float = 0.10

    def describe(self) -> str:
        return (
            f"lowest {self.select_metric} among evaluations after step 0 with {self.constraint_metric} <= "
            f"(1 + {self.tolerance:g}) x its step-0 value; ties: lower {self.constraint_metric}, then earlier"
        )


def _metric(metrics: dict[str, Any], key: str) -> float:
    value = metrics.get(key)
    if value is None:
        raise RapidunError(
            f"the evaluation returned no '{key}' (got {', '.join(metrics) or 'nothing'}); "
            "evaluate with the splits the selection rule needs"
        )
    return float(value)


class EvalTracker:
    """Runs ``eval_fn`` on schedule, keeps the best trainable state in memory and on disk."""

    def __init__(self, eval_fn: EvalFn, every: int, total: int, rule: SelectionRule, run_dir: Path) -> None:
        self.eval_fn, self.every, self.total, self.rule, self.run_dir = eval_fn, every, total, rule, run_dir
        self.evaluations: list[dict[str, Any]] = []
        self.best_step: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.seconds = 0.0  # wall-clock spent in eval_fn, so the caller can take it out of the training time

    def restore(self, resumed_step: int) -> None:
        """Reload persisted evaluations up to ``resumed_step`` (0 = fresh start: discard them)."""
        path = self.run_dir / EVALS_FILE
        if resumed_step == 0 or not path.is_file():
            return
        saved = json.loads(path.read_text())
        self.evaluations = [e for e in saved["evaluations"] if e["step"] <= resumed_step]
        best = saved.get("best_step")
        if best is not None and best <= resumed_step and (self.run_dir / BEST_FILE).is_file():
            self.best_step, self.best_state = best, load_file(str(self.run_dir / BEST_FILE))
        elif best is not None:
            log.warning(
                "best state of step %s is past the resumed step %d; selecting again from here", best, resumed_step
            )
            self.evaluations = [e for e in self.evaluations if e["step"] == 0]

    def evaluate(self, step: int, model: Any) -> dict[str, Any]:
        was_training = model.training
        start = time.perf_counter()
        metrics = dict(self.eval_fn(model))
        self.seconds += time.perf_counter() - start
        model.train(was_training)
        record: dict[str, Any] = {"step": step, **metrics}
        self.evaluations = [e for e in self.evaluations if e["step"] != step] + [record]
        if step > 0 and self._better(record):
            self.best_step = step
            self.best_state = trainable_state(model)
            save_file(self.best_state, str(self.run_dir / BEST_FILE))
        atomic_write_json(self.run_dir / EVALS_FILE, {"evaluations": self.evaluations, "best_step": self.best_step})
        return record

    def _better(self, rec: dict[str, Any]) -> bool:
        base = next((e for e in self.evaluations if e["step"] == 0), None)
        assert base is not None, "step-0 evaluation missing"
        limit = (1 + self.rule.tolerance) * _metric(base, self.rule.constraint_metric)
        c = _metric(rec, self.rule.constraint_metric)
        if not (math.isfinite(c) and c <= limit):
            return False
        if self.best_step is None:
            return True
        best = next(e for e in self.evaluations if e["step"] == self.best_step)
        key = (_metric(rec, self.rule.select_metric), c)
        return key < (_metric(best, self.rule.select_metric), _metric(best, self.rule.constraint_metric))

    def on_step(self, step: int, loss: float, model: Any) -> bool:
        if (self.every and step % self.every == 0) or step == self.total:
            self.evaluate(step, model)
        return False
