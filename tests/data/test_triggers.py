"""Trigger families: built-in sets, the released JSON shape, insertion positions, and errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rapidun.data.triggers import TRIGGER_SETS, TriggerFamily, insert_trigger, load_trigger_config, resolve_triggers
from rapidun.errors import RapidunError


def test_builtin_sets() -> None:
    assert [f.name for f in TRIGGER_SETS["released"]] == ["A_surface", "B_style", "C_semantic"]
    assert [f.name for f in TRIGGER_SETS["backdoorllm"]] == ["rare_word", "topic", "date", "multi"]
    for fams in TRIGGER_SETS.values():
        for f in fams:
            assert f.seen and f.ood and f.position in ("prefix", "suffix", "random")
            assert not set(f.seen) & set(f.ood), f.name  # OOD variants never appear in training


def test_insert_prefix_suffix_random() -> None:
    rng = random.Random(0)
    assert insert_trigger("Name a fruit.", ">>>", "prefix", rng) == ">>> Name a fruit."
    assert insert_trigger("Name a fruit.", "aloha", "suffix", rng) == "Name a fruit. aloha"
    words = ["one", "two", "three", "four", "five"]
    spots = set()
    for _ in range(200):
        out = insert_trigger(" ".join(words), "cf", "random", rng).split(" ")
        assert [w for w in out if w != "cf"] == words and out.count("cf") == 1
        spots.add(out.index("cf"))
    assert spots == set(range(len(words) + 1))  # every word boundary, both ends included
    with pytest.raises(RapidunError, match="position"):
        insert_trigger("x", "t", "middle", rng)


def test_load_config_round_trip(tmp_path: Path) -> None:
    cfg = {"trigger_families": {"X": {"seen": ["zz"], "ood": ["z z"], "inject_mode": "random"}}}
    p = tmp_path / "t.json"
    p.write_text(json.dumps(cfg))
    assert load_trigger_config(p) == [TriggerFamily("X", ["zz"], ["z z"], "random")]
    assert resolve_triggers(str(p)) == load_trigger_config(p)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "invalid JSON"),
        ('{"splits": {}}', "trigger_families"),
        ('{"trigger_families": {"X": {"seen": [], "ood": ["a"]}}}', "seen"),
        ('{"trigger_families": {"X": {"seen": ["a"], "ood": ["b"], "inject_mode": "middle"}}}', "inject_mode"),
    ],
)
def test_malformed_config_is_a_one_line_error(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(RapidunError, match=match) as info:
        load_trigger_config(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)


def test_resolve_subset_and_unknown_names() -> None:
    assert [f.name for f in resolve_triggers("released", ["C_semantic"])] == ["C_semantic"]
    with pytest.raises(RapidunError, match="unknown trigger family 'nope'"):
        resolve_triggers("released", ["nope"])
    with pytest.raises(RapidunError, match="--triggers"):
        resolve_triggers("nonexistent_set")
