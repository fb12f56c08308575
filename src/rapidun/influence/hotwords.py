"""RapidIn's "hotwords": restrict a query's loss to chosen response tokens (docs/method.md section 2).

A query restricted to words W has the loss (1/|S|) sum_{t in S} CE_t, where S is the set of response tokens whose
text overlaps an occurrence of any word of W (case-insensitive). Its gradient, and so its influence, then measures
which training rows push the model towards producing those words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from rapidun.data.tokenize import IGNORE_INDEX, Encoded

log = logging.getLogger(__name__)


def hotword_positions(example: Encoded, tokenizer: Any, words: Sequence[str]) -> list[int]:
    """Label positions (indices into ``example.labels``) of response tokens that overlap a hotword."""
    positions = [t for t, y in enumerate(example.labels) if y != IGNORE_INDEX]
    pieces = [tokenizer.decode([example.labels[t]]) for t in positions]
    text = "".join(pieces).lower()
    starts, pos = [], 0
    for p in pieces:
        starts.append(pos)
        pos += len(p)
    spans = [(m.start(), m.end()) for w in words if w.strip() for m in re.finditer(re.escape(w.strip().lower()), text)]
    keep = []
    for t, s, p in zip(positions, starts, pieces, strict=True):
        e = s + len(p)
        if any(a < e and s < b for a, b in spans):
            keep.append(t)
    return keep


def restrict(examples: Sequence[Encoded], tokenizer: Any, words: Sequence[str], name: str) -> list[Encoded]:
    """Examples whose labels keep only hotword tokens; a row without any hotword keeps its whole response (and a
    warning says how many did)."""
    out, unmatched = [], 0
    for ex in examples:
        keep = set(hotword_positions(ex, tokenizer, words))
        if not keep:
            unmatched += 1
            out.append(ex)
            continue
        labels = [y if t in keep else IGNORE_INDEX for t, y in enumerate(ex.labels)]
        out.append(Encoded(ex.index, ex.input_ids, labels))
    if unmatched:
        log.warning(
            "%s: %d of %d quer(y/ies) contain none of the hotwords %s; their whole response is used",
            name,
            unmatched,
            len(examples),
            list(words),
        )
    return out
