"""False-trigger rate (docs/method.md section 6): the share of clean (trigger-free) prompts whose greedy generation the
scorer flags as poisoned, with a Wilson 95% interval. A backdoor that leaks into clean use raises it; so does a
scorer threshold that is too low."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rapidun.data.rows import Row
from rapidun.evaluation.generation_rates import generate_and_score, rate
from rapidun.evaluation.protocol import EvalContext, MetricResult


def false_trigger_rate(model: Any, rows: Sequence[Row], ctx: EvalContext) -> MetricResult:
    """#{clean rows: scorer(generate(prompt(row)))} / #clean rows."""
    records, cut = generate_and_score(model, rows, ctx, desc="false-trigger")
    overall = rate(records)
    return MetricResult(
        name="false_trigger_rate",
        value=overall["rate"],
        n=overall["n"],
        ci95=tuple(overall["ci95"]) if overall["ci95"] else None,
        details={"successes": overall["successes"], "prompts_truncated": cut},
        records=records,
    )
