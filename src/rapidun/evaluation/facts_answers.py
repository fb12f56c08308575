"""Greedy answers to facts questions and their grades against each row's reference answer (docs/method.md
section 6): normalised exact match, fact hit (the normalised fact inside the normalised answer) and ROUGE-L recall.

The one home of "ask a split's questions and grade the answers", shared by the facts evaluation
(:mod:`rapidun.evaluation.facts`), relearning's facts task and the facts benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidun.data.rows import Row
from rapidun.evaluation.facts_stats import exact_match, normalise_answer, rouge_l_recall
from rapidun.evaluation.generate import generate_responses


@dataclass(frozen=True)
class GradedAnswers:
    """One entry per question, in row order."""

    outputs: list[str]  # the model's greedy answer
    correct: list[bool]  # normalised exact match with the row's reference answer (``response``)
    fact_hit: list[bool]  # the row's normalised ``extra["fact"]`` appears inside the normalised answer
    rouge_l_recall: list[float]  # ROUGE-L recall of the reference answer

    @property
    def accuracy(self) -> float | None:
        return _mean(self.correct)

    @property
    def fact_hit_rate(self) -> float | None:
        return _mean(self.fact_hit)

    @property
    def mean_rouge_l_recall(self) -> float | None:
        return _mean(self.rouge_l_recall)


def _mean(values: Sequence[float | bool]) -> float | None:
    return sum(values) / len(values) if values else None


def grade_answers(rows: Sequence[Row], outputs: Sequence[str]) -> GradedAnswers:
    """Grade ``outputs[i]`` against ``rows[i]``'s reference answer and fact (rows without a fact never hit)."""
    outs = list(outputs)
    pairs = list(zip(outs, rows, strict=True))
    return GradedAnswers(
        outputs=outs,
        correct=[exact_match(o, r.response) for o, r in pairs],
        fact_hit=[
            bool(r.extra.get("fact")) and normalise_answer(str(r.extra["fact"])) in normalise_answer(o)
            for o, r in pairs
        ],
        rouge_l_recall=[rouge_l_recall(o, r.response) for o, r in pairs],
    )


def answer_questions(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    *,
    max_new_tokens: int,
    batch_size: int,
    prompt_style: str,
    progress: bool,
    desc: str = "facts",
) -> GradedAnswers:
    """Ask every row's ``instruction`` (greedy decoding, ``max_new_tokens``) and grade the answers."""
    gens = generate_responses(
        model,
        tokenizer,
        list(rows),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        prompt_style=prompt_style,
        progress=progress,
        desc=desc,
    )
    return grade_answers(rows, gens.outputs)
