"""The ``influence`` ranker (default): RapidIn-style scores I(q, i) = <g(q), g(i)> from the influence stage's
projected-gradient caches (docs/method.md section 2).

The training rows' store lives in ``<cache_dir>/train`` and is keyed like every influence cache (model fingerprint,
tracked layers, projector, seed, data hash, ...): a second trace of the same model and rows with other reports
reuses it without a second caching pass, a killed trace resumes it batch by batch, and a store made for another
model or other rows is refused (--overwrite rebuilds it). The reports' store lives in ``<out>/cache/reports``;
with ``hotwords`` each report's loss keeps only the response tokens overlapping those words
(:mod:`rapidun.influence.hotwords`), so g(q) is the gradient of producing the behaviour's words.
Training rows are scored in chunks read from the memory map, so memory is bounded by the chunk, not by N.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from rapidun.data.tokenize import Encoded
from rapidun.influence.caching import cache_set, encode_set, store_key
from rapidun.influence.gradient_store import GradientStore
from rapidun.influence.hooks import describe, select_layers
from rapidun.influence.hotwords import restrict
from rapidun.influence.score import score_matrix
from rapidun.modeling.load import model_fingerprint

if TYPE_CHECKING:
    from rapidun.tracing.ranker_registry import RankInputs


def influence_stores(inputs: RankInputs) -> tuple[dict[str, GradientStore], list[Encoded]]:
    """The training rows' and the reports' gradient stores (filled here unless finished), and the encoded
    reports."""
    icfg = inputs.cfg.influence()
    model, tok = inputs.model, inputs.tokenizer
    model.eval()
    fingerprint = model_fingerprint(model)
    tracked = [asdict(t) for t in describe(select_layers(model, icfg.params))]
    tracked_hash = hashlib.sha256(json.dumps(tracked).encode()).hexdigest()[:16]
    stores = {}
    examples: list[Encoded] = []
    for name, rows, directory in (
        ("train", inputs.train_rows, inputs.cache_dir / "train"),
        ("reports", inputs.report_rows, inputs.out_dir / "cache" / "reports"),
    ):
        with inputs.ledger.stage(f"cache_{name}"):
            # hotwords restrict the reports' losses only: the training rows' store stays shareable between traces
            hotwords = list(inputs.cfg.hotwords) if inputs.cfg.hotwords and name == "reports" else None
            key = store_key(fingerprint, rows, icfg, tracked_hash, hotwords)
            examples = encode_set(rows, tok, icfg, name)
            if hotwords:
                examples = restrict(examples, tok, hotwords, name)
            stores[name] = cache_set(
                model, tok, examples, directory, key, icfg, inputs.overwrite, inputs.progress, inputs.accelerator
            )
    return stores, examples


def score(inputs: RankInputs) -> np.ndarray:
    """(n_reports, n_train) float32 influence of each training row on each report's loss: its magnitude
    |<g(q), g(i)>| (``influence_score="abs"``, the default) or the signed <g(q), g(i)> (``"signed"``).

    Why the magnitude: on the synthetic `small` backdoor the poisoned rows' per-report z-scores have mean about 0
    and standard deviation about 3 (clean rows about 0.35). A poisoned row that shares the report's template choices
    (the same closing sentence) scores strongly positive, one that chose other words for the same slot strongly
    negative: the model has learnt the register, so the loss left in a report is in those slot tokens, and rows
    compete there. The sign says which wording a row supports; the magnitude says it is behind the behaviour
    Chosen on validation report sets; on held-out ones the AUC of the 10-report case rises from 0.776 (signed) to
    0.998 (docs/tracing.md, "Why single reports look weak", benchmarks/trace_cases.py)."""
    stores, _ = influence_stores(inputs)
    if inputs.accelerator is not None and not inputs.accelerator.is_main_process:
        return np.zeros((0, 0), dtype=np.float32)
    with inputs.ledger.stage("score"):
        scores = score_matrix(stores["reports"], stores["train"])
        return (scores.abs() if inputs.cfg.influence_score == "abs" else scores).numpy()
