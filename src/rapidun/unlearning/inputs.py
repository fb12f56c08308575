"""Checking and pre-tokenising the forget and retain rows once, before any method runs.

Decisions (documented in the README): a forget row that also appears in the retain set (same instruction, context
and response) is an error, not a silent removal, because removing it would shift the row indices that weight files
refer to; a row with an empty response is an error naming the row, because nothing can be ascended or learned;
a repeated forget row is an error (it would be drawn twice as often).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidun.data.checks import check_unique
from rapidun.data.rows import Row, overlapping_rows
from rapidun.data.tokenize import Encoded, encode_row
from rapidun.errors import RapidunError


@dataclass
class UnlearnData:
    """Encoded rows. ``forget[i]`` is forget row i with its poisoned response, ``forget_clean[i]`` the same prompt
    with its clean response (None when the row has none), ``retain[j]`` retain row j. Encoded.index = row index."""

    forget_rows: list[Row]
    retain_rows: list[Row]
    forget: list[Encoded]
    forget_clean: list[Encoded | None]
    retain: list[Encoded]
    truncated: int = 0

    @property
    def n_forget(self) -> int:
        return len(self.forget)

    @property
    def n_retain(self) -> int:
        return len(self.retain)

    @property
    def n_clean(self) -> int:
        return sum(e is not None for e in self.forget_clean)


def check_rows(forget_rows: Sequence[Row], retain_rows: Sequence[Row], *, need_retain: bool = True) -> None:
    """Raise :class:`RapidunError` for an empty set, a row without a response, a repeated forget row, or a forget
    row that is also a retain row."""
    if not forget_rows:
        raise RapidunError("the forget set is empty; pass --forget with at least one row to unlearn")
    if need_retain and not retain_rows:
        raise RapidunError("the retain set is empty; pass --retain with at least one clean row")
    for i, row in enumerate(forget_rows):
        if not row.response.strip():
            raise RapidunError(
                f"--forget row {i} has an empty response; every forget row needs the response to "
                "unlearn (fix or remove the row)"
            )
    for j, row in enumerate(retain_rows):
        if not row.response.strip():
            raise RapidunError(f"--retain row {j} has an empty response; fix or remove the row")
    check_unique(forget_rows, "--forget")  # a repeated forget row would be ascended on twice as often
    both = overlapping_rows(forget_rows, retain_rows)
    if both:
        shown = ", ".join(str(i) for i in both[:5]) + (" ..." if len(both) > 5 else "")
        raise RapidunError(
            f"{len(both)} forget row(s) ({shown}) also appear in --retain (same instruction, context "
            "and response); remove them from the retain file"
        )


def _encode(
    row: Row, tokenizer: Any, max_length: int, style: str, index: int, response: str | None, what: str
) -> tuple[Encoded, bool]:
    enc = encode_row(row, tokenizer, max_length, style, response=response)
    if enc is None:
        raise RapidunError(f"{what} row {index}: no response token fits in --max-length {max_length}; raise it")
    ids, labels, cut = enc
    return Encoded(index, ids, labels), cut


def encode_unlearn_data(
    forget_rows: Sequence[Row], retain_rows: Sequence[Row], tokenizer: Any, max_length: int, style: str
) -> UnlearnData:
    """Tokenise every row once: poisoned and clean versions of the forget rows, and the retain rows."""
    forget: list[Encoded] = []
    clean: list[Encoded | None] = []
    retain: list[Encoded] = []
    cut_count = 0
    for i, row in enumerate(forget_rows):
        enc, cut = _encode(row, tokenizer, max_length, style, i, None, "--forget")
        forget.append(enc)
        cut_count += int(cut)
        if row.response_clean and row.response_clean.strip():
            enc_c, cut = _encode(row, tokenizer, max_length, style, i, row.response_clean, "--forget (clean)")
            clean.append(enc_c)
            cut_count += int(cut)
        else:
            clean.append(None)
    for j, row in enumerate(retain_rows):
        enc, cut = _encode(row, tokenizer, max_length, style, j, None, "--retain")
        retain.append(enc)
        cut_count += int(cut)
    return UnlearnData(list(forget_rows), list(retain_rows), forget, clean, retain, cut_count)
