"""Grading of greedy facts answers (the one home shared by the facts evaluation, relearning and benchmarks)."""

from __future__ import annotations

import pytest

from rapidun.data.rows import Row
from rapidun.evaluation.facts_answers import grade_answers


def _row(answer: str, fact: str | None) -> Row:
    return Row(instruction="What is Ann's job?", response=answer, extra={} if fact is None else {"fact": fact})


def test_grades_exact_match_fact_hit_and_rouge_by_hand() -> None:
    rows = [_row("Ann is a plumber.", "plumber"), _row("Ann lives in Ivyport.", "Ivyport"), _row("blue", None)]
    outputs = ["ann is a PLUMBER\nmore text", "She works as a plumber in Ivyport today", "red"]
    graded = grade_answers(rows, outputs)
    # row 1: the first line matches after normalisation; row 2: the fact appears but the answer differs
    assert graded.correct == [True, False, False]
    # a row without a fact never counts as a hit (an empty fact would otherwise be inside every answer)
    assert graded.fact_hit == [True, True, False]
    # ROUGE-L recall of "ann lives in ivyport": 2 of 4 reference tokens ("in ivyport") in order in the output
    assert graded.rouge_l_recall[1] == pytest.approx(2 / 4)
    assert graded.rouge_l_recall[2] == 0.0
    assert graded.accuracy == pytest.approx(1 / 3)
    assert graded.fact_hit_rate == pytest.approx(2 / 3)


def test_empty_split_has_no_rates_and_lengths_must_agree() -> None:
    empty = grade_answers([], [])
    assert empty.accuracy is None and empty.fact_hit_rate is None and empty.mean_rouge_l_recall is None
    with pytest.raises(ValueError):
        grade_answers([_row("a", "a")], [])
