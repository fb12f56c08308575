"""Attack success rate (docs/method.md section 6): the share of triggered prompts whose greedy generation shows the
poisoned behaviour according to the scorer, with a Wilson 95% interval, per trigger family and per variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rapidun.data.rows import Row
from rapidun.evaluation.generation_rates import breakdown, generate_and_score, rate
from rapidun.evaluation.protocol import EvalContext, MetricResult


def asr(model: Any, rows: Sequence[Row], ctx: EvalContext) -> MetricResult:
    """ASR = #{rows: scorer(generate(prompt(row)))} / #rows on triggered rows."""
    records, cut = generate_and_score(model, rows, ctx, desc="asr")
    overall = rate(records)
    return MetricResult(
        name="asr",
        value=overall["rate"],
        n=overall["n"],
        ci95=tuple(overall["ci95"]) if overall["ci95"] else None,
        details={
            "successes": overall["successes"],
            "prompts_truncated": cut,
            "per_family": breakdown(records, "family"),
            "per_variant": breakdown(records, "variant"),
        },
        records=records,
    )
