"""Shared step of the generation metrics: generate greedily, score each output, and summarise rates with Wilson
intervals, overall, per trigger family and per variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rapidun.data.rows import Row
from rapidun.evaluation.generate import generate_responses
from rapidun.evaluation.intervals import wilson_interval
from rapidun.evaluation.protocol import EvalContext

NO_FAMILY = "none"


def generate_and_score(
    model: Any, rows: Sequence[Row], ctx: EvalContext, desc: str
) -> tuple[list[dict[str, Any]], int]:
    """One record per row (``family``, ``variant``, ``prompt``, ``output``, ``success`` = scorer fired) and the
    number of prompts truncated (as in training) to fit ``ctx.max_length`` and the model."""
    if ctx.scorer is None:
        raise ValueError("this metric needs ctx.scorer (a keyword or regex scorer)")
    if not rows:
        return [], 0
    gens = generate_responses(
        model,
        ctx.tokenizer,
        rows,
        max_new_tokens=ctx.max_new_tokens,
        batch_size=ctx.batch_size,
        prompt_style=ctx.prompt_style,
        max_prompt_tokens=ctx.max_prompt_tokens,
        max_length=ctx.max_length,
        progress=ctx.progress,
        desc=desc,
    )
    records = [
        {
            "family": row.trigger_family,
            "variant": row.trigger_variant,
            "prompt": prompt,
            "output": output,
            "success": bool(ctx.scorer(output)),
        }
        for row, prompt, output in zip(rows, gens.prompts, gens.outputs, strict=True)
    ]
    return records, gens.truncated


def rate(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``{"rate", "successes", "n", "ci95"}``; rate and ci95 are None for no records."""
    n = len(records)
    k = sum(bool(r["success"]) for r in records)
    ci = wilson_interval(k, n)
    return {"rate": k / n if n else None, "successes": k, "n": n, "ci95": list(ci) if ci else None}


def breakdown(records: Sequence[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """:func:`rate` per value of ``record[key]`` (``family`` or ``family::variant``), keys sorted."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if key == "variant":
            label = f"{r['family'] or NO_FAMILY}::{r['variant'] or NO_FAMILY}"
        else:
            label = r[key] or NO_FAMILY
        groups.setdefault(label, []).append(r)
    return {label: rate(groups[label]) for label in sorted(groups)}
