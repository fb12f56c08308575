"""Registry of scorers: name -> constructor (keyword arguments only). See :mod:`.keyword_scorer` and :mod:`.target_regex`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rapidun.evaluation.keyword_scorer import keyword_scorer
from rapidun.evaluation.protocol import Scorer
from rapidun.evaluation.target_regex import regex_scorer

SCORERS: dict[str, Callable[..., Scorer]] = {
    "keywords": keyword_scorer,
    "regex": regex_scorer,
}


def build_scorer(name: str, **kwargs: Any) -> Scorer:
    if name not in SCORERS:
        raise ValueError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
    return SCORERS[name](**kwargs)
