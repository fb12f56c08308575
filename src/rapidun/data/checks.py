"""Input checks run by the commands before any work: repeated rows, and triggers nobody could see.

Decisions (documented in docs/scaling.md, "Bad input"):

- A row that repeats another (same instruction, context and response, :meth:`Row.key`) is an error in every input
  set: in training it silently doubles the row's weight, in a forget or retain set it counts twice in the influence
  medians, and in ``rapidun poison`` a repeat can land in both the training and the test split.
- Unicode confusables and zero-width characters inside a trigger are *allowed*: the released OOD variants are
  exactly that (``'a\\u217coha'``, ``'aloha\\u200d'``, ``'h\\u043ewdy'``) and are kept byte for byte. A trigger made only of
  invisible characters is an error (it cannot be read in any report), and so is a string listed twice (as seen and
  OOD, or in two families), which would make the seen/OOD split or the family attribution meaningless.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from rapidun.data.rows import Row
from rapidun.errors import RapidunError

# Unicode categories that draw nothing: format (ZWSP, ZWJ, BOM, bidi marks), control, separators, spaces.
_INVISIBLE = {"Cf", "Cc", "Zl", "Zp", "Zs"}
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}  # Hangul fillers and the blank braille pattern


def duplicate_rows(rows: Sequence[Row]) -> list[tuple[int, int]]:
    """(first index, repeated index) for every row whose :meth:`Row.key` appeared earlier."""
    first: dict[tuple[str, str, str], int] = {}
    out: list[tuple[int, int]] = []
    for i, row in enumerate(rows):
        j = first.setdefault(row.key(), i)
        if j != i:
            out.append((j, i))
    return out


def check_unique(rows: Sequence[Row], what: str) -> None:
    """Raise a one-line :class:`RapidunError` naming the first repeated rows of ``what`` (e.g. "--forget")."""
    dups = duplicate_rows(rows)
    if dups:
        shown = ", ".join(f"{b} repeats {a}" for a, b in dups[:3]) + (" ..." if len(dups) > 3 else "")
        raise RapidunError(
            f"{what} has {len(dups)} repeated row(s) (same instruction, context and response: row {shown}); "
            "remove the repeats (a repeat would count twice)"
        )


def invisible_chars(text: str) -> list[str]:
    """The characters of ``text`` that draw nothing (zero-width, format, control, spaces, fillers)."""
    return [ch for ch in text if unicodedata.category(ch) in _INVISIBLE or ch in _FILLERS]


def describe_chars(chars: Iterable[str]) -> str:
    """``U+200B ZERO WIDTH SPACE, ...`` for an error message (ASCII only, so it stays readable anywhere)."""
    seen = dict.fromkeys(chars)
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}" for ch in seen)


def check_triggers(families: Sequence[Any]) -> None:
    """Every trigger (``family.seen`` + ``family.ood``) has a visible character and appears only once."""
    where: dict[str, str] = {}
    for fam in families:
        for kind in ("seen", "ood"):
            for trig in getattr(fam, kind):
                visible = [ch for ch in trig if ch not in invisible_chars(trig)]
                if not visible:
                    raise RapidunError(
                        f"trigger {ascii(trig)} ({kind}) of family '{fam.name}' has no visible character (only "
                        f"{describe_chars(trig)}); give it at least one visible character or remove it"
                    )
                here = f"{kind} of family '{fam.name}'"
                if trig in where:
                    raise RapidunError(
                        f"trigger {ascii(trig)} is listed twice ({where[trig]} and {here}); seen and OOD variants "
                        "and families must use distinct strings, so remove one"
                    )
                where[trig] = here
