"""The whole backdoor evaluation on an in-memory model: ASR on seen and OOD triggers, false-trigger rate on clean
prompts, clean perplexity (docs/method.md section 6). No file I/O, so training loops can call it every N steps."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidun.data.rows import Row
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.evaluation.metrics import METRICS
from rapidun.evaluation.protocol import EvalContext, MetricResult, Scorer

SPLITS = ("seen", "ood", "clean")


@dataclass
class EvalResult:
    """The four headline metrics, every generation (with its ``split``), and the settings that produced them."""

    asr_seen: MetricResult
    asr_ood: MetricResult
    false_trigger_rate: MetricResult
    clean_ppl: MetricResult
    generations: list[dict[str, Any]]
    scorer: dict[str, Any]
    max_new_tokens: int
    prompt_style: str
    seconds: float
    max_length: int | None = None  # the training length prompts and perplexity rows were capped at (None: model's)
    extra: dict[str, Any] = field(default_factory=dict)

    def metrics(self, model: str | None = None, adapter: str | None = None) -> dict[str, Any]:
        """The ``metrics.json`` dict (contract keys: ``asr_seen``, ``asr_ood``, ``false_trigger_rate``,
        ``clean_ppl``, ``counts``, ``ci95``, ``per_family``, ``per_variant``, ``scorer``, ``prompts_truncated``,
        ``max_length``, ``max_new_tokens``, ``prompt_style``, ``seconds``, ``model``, ``adapter``). Rates are None for an empty split."""
        seen, ood = self.asr_seen, self.asr_ood

        def ci(m: MetricResult) -> list[float] | None:
            return list(m.ci95) if m.ci95 is not None else None

        return {
            "asr_seen": seen.value,
            "asr_ood": ood.value,
            "false_trigger_rate": self.false_trigger_rate.value,
            "clean_ppl": self.clean_ppl.value,
            "counts": {
                "seen": seen.n,
                "ood": ood.n,
                "clean": self.false_trigger_rate.n,
                "ppl_rows": self.clean_ppl.n,
                "ppl_tokens": int(self.clean_ppl.details.get("tokens", 0)),
            },
            "successes": {
                "seen": int(seen.details.get("successes", 0)),
                "ood": int(ood.details.get("successes", 0)),
                "clean": int(self.false_trigger_rate.details.get("successes", 0)),
            },
            "ci95": {
                "asr_seen": ci(seen),
                "asr_ood": ci(ood),
                "false_trigger_rate": ci(self.false_trigger_rate),
                "clean_ppl": ci(self.clean_ppl),
            },
            "ci95_method": {"rates": "Wilson score", "clean_ppl": self.clean_ppl.details.get("ci_method")},
            "per_family": _per_family(seen, ood),
            "per_variant": _per_variant(seen, ood),
            "clean_ppl_details": {k: v for k, v in self.clean_ppl.details.items() if k != "ci_method"},
            "scorer": {"val_fpr": None, **self.scorer},
            "prompts_truncated": {
                split: int(m.details.get("prompts_truncated", 0))
                for split, m in zip(SPLITS, (seen, ood, self.false_trigger_rate), strict=True)
            },
            "max_length": self.max_length,
            "max_new_tokens": self.max_new_tokens,
            "prompt_style": self.prompt_style,
            "decoding": "greedy",
            "seconds": self.seconds,
            "model": model,
            "adapter": adapter,
            **self.extra,
        }


def _cell(stats: dict[str, Any] | None) -> dict[str, Any]:
    if stats is None:
        return {"asr": None, "n": 0, "ci95": None}
    return {"asr": stats["rate"], "n": stats["n"], "ci95": stats["ci95"]}


def _per_family(seen: MetricResult, ood: MetricResult) -> dict[str, dict[str, Any]]:
    s, o = seen.details.get("per_family", {}), ood.details.get("per_family", {})
    return {fam: {"seen": _cell(s.get(fam)), "ood": _cell(o.get(fam))} for fam in sorted(set(s) | set(o))}


def _per_variant(seen: MetricResult, ood: MetricResult) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for split, result in (("seen", seen), ("ood", ood)):
        for key, stats in result.details.get("per_variant", {}).items():
            # Seen and OOD variants are disjoint in the released design; if a pack reuses one, keep both.
            label = key if key not in out else f"{key}::{split}"
            out[label] = {"split": split, **_cell(stats)}
    return out


def evaluate_backdoor(
    model: Any,
    tokenizer: Any,
    *,
    test_seen: Sequence[Row],
    test_ood: Sequence[Row],
    test_clean: Sequence[Row],
    scorer: Scorer,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
    prompt_style: str = "alpaca",
    ppl_rows: Sequence[Row] | None = None,
    max_length: int | None = None,
    progress: bool = True,
    seed: int = 0,
) -> EvalResult:
    """Evaluate a loaded model (plain or PEFT) on in-memory rows.

    ``ppl_rows`` defaults to ``test_clean``; pass ``[]`` (or an empty split) to skip a metric, whose value is then
    None. ``max_length`` is the length the model was trained at: prompts and perplexity rows longer than it are
    truncated by the training rule (:func:`rapidun.data.tokenize.fit_prompt`); None caps them at the model's
    positions only. Generation is batched greedy decoding with left padding; the model is put in eval mode and its
    previous mode restored.
    """
    ctx = EvalContext(
        tokenizer=tokenizer,
        scorer=scorer,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        prompt_style=prompt_style,
        max_length=max_length,
        progress=progress,
        seed=seed,
    )
    start = time.perf_counter()
    seen = METRICS["asr"](model, test_seen, ctx)
    ood = METRICS["asr"](model, test_ood, ctx)
    ftr = METRICS["false_trigger_rate"](model, test_clean, ctx)
    ppl = METRICS["clean_ppl"](model, test_clean if ppl_rows is None else ppl_rows, ctx)
    generations = [
        {"split": split, **record}
        for split, result in zip(SPLITS, (seen, ood, ftr), strict=True)
        for record in result.records
    ]
    return EvalResult(
        asr_seen=seen,
        asr_ood=ood,
        false_trigger_rate=ftr,
        clean_ppl=ppl,
        generations=generations,
        scorer=scorer.describe(),
        max_new_tokens=max_new_tokens,
        prompt_style=prompt_style,
        seconds=round(time.perf_counter() - start, 3),
        max_length=max_length,
    )
