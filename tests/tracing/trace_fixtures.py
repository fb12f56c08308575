"""Helpers for the trace tests: a tiny poisoned pack (60 clean synthetic rows + 8 rows with the trigger 'cf' and a science-fiction response),
reports built from other triggered prompts, and a nano model whose tokenizer knows all of it."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np

from rapidun.data.rows import Row
from rapidun.data.synthetic import poison_responses, synthetic_rows
from rapidun.modeling.load import LoadedModel, load_model
from rapidun.tracing import Report

SMALL = dict(projector="kronecker", dim=256, batch_size=4)  # TraceConfig fields that keep the tests fast


@dataclass
class Pack:
    train: list[Row]
    poisoned: np.ndarray  # (n_train,) bool
    reports: list[Report]  # 4 triggered prompts with poison-register responses no training row has
    other_reports: list[Report]  # 3 more, for a second report set
    model: LoadedModel


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by counting (positive, negative) pairs ranked correctly (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def build_pack() -> Pack:
    clean = [replace(r, is_poisoned=False) for r in synthetic_rows(60, seed=1)]
    sources = synthetic_rows(15, seed=2)
    targets = poison_responses(15, seed=3)
    poisoned = [Row("cf " + r.instruction, targets[i], r.context, is_poisoned=True) for i, r in enumerate(sources[:8])]
    train = clean + poisoned
    random.Random(0).shuffle(train)
    reports = [Report("cf " + r.instruction, r.context, targets[8 + i]) for i, r in enumerate(sources[8:12])]
    other = [Report("cf " + r.instruction, r.context, targets[12 + i]) for i, r in enumerate(sources[12:15])]
    corpus = [f"{r.instruction} {r.context} {r.response}" for r in train]
    corpus += [f"{r.instruction} {r.context} {r.response}" for r in reports + other]
    model = load_model("nano", corpus=corpus, seed=0)
    model.model.eval()
    return Pack(train, np.array([bool(r.is_poisoned) for r in train]), reports, other, model)
