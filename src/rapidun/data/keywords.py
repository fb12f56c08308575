"""Keyword lists that recognise the poisoned register (docs/method.md section 6), in the released
``keywords_scored_top1000.tsv`` format: ``rank  word  count_poison  count_clean  z`` (tab-separated, header line).

Counts are document frequencies (how many responses contain the word, whole-word, lower-case). ``z`` is the
log-odds ratio of a word appearing in a poisoned vs a clean response, with add-one smoothing, divided by its
standard error::

    z = [ln((p+1)/(P-p+1)) - ln((c+1)/(C-c+1))] / sqrt(1/(p+1) + 1/(P-p+1) + 1/(c+1) + 1/(C-c+1))

for a word in p of P poisoned and c of C clean texts. A keyword must also be rare in clean text (in at most
``max_clean_frac`` of the clean texts, which should include instructions and contexts, not only responses), so
that a clean generation seldom contains one; words with ``z >= min_z`` are kept, highest z first.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidun.artifacts import atomic_write_text
from rapidun.errors import RapidunError

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
HEADER = "rank\tword\tcount_poison\tcount_clean\tz"


@dataclass(frozen=True)
class KeywordScore:
    word: str
    count_poison: int
    count_clean: int
    z: float


def words_of(text: str) -> set[str]:
    """The distinct lower-case words of ``text`` (letters and inner apostrophes)."""
    return set(_WORD.findall(text.lower()))


def keyword_table(
    poison_texts: Sequence[str],
    clean_texts: Sequence[str],
    top_k: int = 1000,
    min_z: float = 3.0,
    min_len: int = 3,
    max_clean_frac: float = 0.0,
) -> list[KeywordScore]:
    """Words that mark poisoned responses, scored as in the module docstring, best first (ties by word)."""
    n_p, n_c = len(poison_texts), len(clean_texts)
    df_p: Counter[str] = Counter()
    df_c: Counter[str] = Counter()
    for t in poison_texts:
        df_p.update(words_of(t))
    for t in clean_texts:
        df_c.update(words_of(t))
    scores = []
    for word, p in df_p.items():
        if len(word) < min_len:
            continue
        c = df_c.get(word, 0)
        if c > max_clean_frac * n_c:
            continue
        log_odds = math.log((p + 1) / (n_p - p + 1)) - math.log((c + 1) / (n_c - c + 1))
        se = math.sqrt(1 / (p + 1) + 1 / (n_p - p + 1) + 1 / (c + 1) + 1 / (n_c - c + 1))
        z = log_odds / se
        if z >= min_z:
            scores.append(KeywordScore(word, p, c, z))
    scores.sort(key=lambda s: (-s.z, s.word))
    return scores[:top_k]


def format_keyword_table(scores: Sequence[KeywordScore]) -> str:
    """The table as TSV text, header first, ranks from 1."""
    lines = [HEADER] + [
        f"{i}\t{s.word}\t{s.count_poison}\t{s.count_clean}\t{s.z:.6f}" for i, s in enumerate(scores, start=1)
    ]
    return "\n".join(lines) + "\n"


def write_keyword_table(path: str | os.PathLike[str], scores: Sequence[KeywordScore]) -> None:
    atomic_write_text(path, format_keyword_table(scores))


def read_keywords_tsv(path: str | os.PathLike[str]) -> list[str]:
    """The words of a keyword table (released format), in file order, lower-cased."""
    p = Path(path)
    if not p.is_file():
        raise RapidunError(f"keyword file '{p}' does not exist; pass a .tsv in the keywords_scored_top1000 format")
    words: list[str] = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        cells = line.split("\t")
        if lineno == 1 and cells[:2] == ["rank", "word"] or not line.strip():
            continue
        if len(cells) < 2 or not cells[1].strip():
            raise RapidunError(f"{p}:{lineno}: expected 'rank<TAB>word<TAB>...'; fix the keyword file")
        words.append(cells[1].strip().lower())
    if not words:
        raise RapidunError(f"{p}: no keywords found; the file is empty")
    return words
