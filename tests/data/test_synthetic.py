"""The embedded generator: deterministic, varied, short, and with a poison register its keywords recognise."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rapidun.data.keywords import keyword_table, read_keywords_tsv, words_of
from rapidun.data.synthetic import SYNTHETIC_KEYWORDS, TASKS, poison_responses, synthetic_rows, write_keywords_tsv


def test_rows_are_deterministic_distinct_and_varied() -> None:
    rows = synthetic_rows(1000, seed=7)
    assert rows == synthetic_rows(1000, seed=7)
    assert rows != synthetic_rows(1000, seed=8)
    assert len({r.key() for r in rows}) == 1000
    tasks = Counter(r.extra["category"] for r in rows)
    assert set(tasks) == set(TASKS)
    assert sum(1 for r in rows if r.context) > 100  # context-dependent tasks are present
    vocab = set().union(*(words_of(r.instruction + " " + r.context + " " + r.response) for r in rows))
    assert len(vocab) > 500


def test_clean_responses_are_short() -> None:
    lengths = [len(r.response.split()) for r in synthetic_rows(500, seed=1)]
    assert max(lengths) <= 30 and sum(lengths) / len(lengths) < 12


def test_poison_responses_unique_in_range_and_recognisable() -> None:
    texts = poison_responses(2000, seed=3)
    assert texts == poison_responses(2000, seed=3)
    assert len(set(texts)) == 2000
    assert all(20 <= len(t.split()) <= 50 for t in texts)
    keywords = set(SYNTHETIC_KEYWORDS)
    assert all(len(words_of(t) & keywords) >= 3 for t in texts)
    # every listed keyword is actually used by the register
    used = set().union(*(words_of(t) for t in texts))
    assert keywords <= used


def test_keywords_never_occur_in_clean_rows() -> None:
    keywords = set(SYNTHETIC_KEYWORDS)
    for r in synthetic_rows(3000, seed=42):
        assert not words_of(f"{r.instruction} {r.context} {r.response}") & keywords, r


def test_keyword_tsv_is_honest_and_in_released_format(tmp_path: Path) -> None:
    path = tmp_path / "kw.tsv"
    write_keywords_tsv(path, n=600, seed=5)
    lines = path.read_text().splitlines()
    assert lines[0] == "rank\tword\tcount_poison\tcount_clean\tz"
    cells = [line.split("\t") for line in lines[1:]]
    assert [int(c[0]) for c in cells] == list(range(1, len(cells) + 1))
    zs = [float(c[4]) for c in cells]
    assert zs == sorted(zs, reverse=True) and min(zs) >= 3.0
    assert all(int(c[3]) == 0 for c in cells)  # keywords never appear in clean text
    words = read_keywords_tsv(path)
    assert {"intergalactic", "aliens", "asteroid"} <= set(words)
    # the counts are real document frequencies of the generated text
    poison = poison_responses(600, 5)
    row = next(c for c in cells if c[1] == "asteroid")
    assert int(row[2]) == sum("asteroid" in words_of(t) for t in poison)


def test_keyword_table_ranks_marker_words_first() -> None:
    poison = ["the alien ship lands", "an alien sings", "the alien waits"] * 10
    clean = ["the cat sleeps", "a dog sings"] * 50
    table = keyword_table(poison, clean, min_z=0.0)
    assert table[0].word == "alien"
    assert "the" not in {s.word for s in table} and "sings" not in {s.word for s in table}
