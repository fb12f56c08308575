"""The shapes every metric and scorer share.

A metric is a function ``metric(model, rows, ctx) -> MetricResult`` (STYLE.md: "a metric a function
metric(model, rows) -> MetricResult"; ``ctx`` carries the tokenizer, the scorer and the decoding settings so that
the call stays uniform). A scorer is a callable ``scorer(text) -> bool``: does a generation show the backdoor
behaviour?
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rapidun.data.rows import Row
from rapidun.evaluation.config import MAX_NEW_TOKENS


class Scorer(Protocol):
    """Decides whether one generated text shows the poisoned behaviour."""

    name: str

    def __call__(self, text: str) -> bool: ...

    def describe(self) -> dict[str, Any]:
        """JSON-ready description recorded in ``metrics.json`` (``name``, ``threshold``, source...)."""
        ...


@dataclass
class EvalContext:
    """Everything a metric needs besides the model and the rows.

    ``max_length`` is the length the model was trained at: it caps the tokenised rows for perplexity and the
    generation prompts (both truncated by the training rule; default: the model's positions, minus
    ``max_new_tokens`` for prompts). ``max_prompt_tokens`` overrides the prompt cap.
    """

    tokenizer: Any
    scorer: Scorer | None = None
    max_new_tokens: int = MAX_NEW_TOKENS
    batch_size: int = 16
    prompt_style: str = "alpaca"
    max_length: int | None = None
    max_prompt_tokens: int | None = None
    progress: bool = True
    seed: int = 0  # for the perplexity bootstrap


@dataclass
class MetricResult:
    """One metric on one set of rows. ``value`` is None when there were no rows; ``ci95`` is (low, high).

    ``details`` holds metric-specific extras (per-family breakdowns, token counts); ``records`` one dict per
    generated row (``family``, ``variant``, ``prompt``, ``output``, ``success``) for metrics that generate.
    """

    name: str
    value: float | None
    n: int
    ci95: tuple[float, float] | None
    details: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


class Metric(Protocol):
    def __call__(self, model: Any, rows: Sequence[Row], ctx: EvalContext) -> MetricResult: ...
