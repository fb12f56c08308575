"""Every released row file loads through the one row reader; the released trigger config and keyword table too."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapidun.data.keywords import read_keywords_tsv
from rapidun.data.rows import load_rows
from rapidun.data.triggers import TRIGGER_SETS, load_trigger_config

# Expected row counts of the released files (METHOD.md section 6 and unlearn_meta.json).
EXPECTED = {
    "dolly_triggers_out/train_poisoned.jsonl": 799,
    "dolly_triggers_out/test_clean.jsonl": 3000,
    "dolly_triggers_out/val_clean.jsonl": 420,
    "unlearn_packs/forget_set.jsonl": 40,
    "unlearn_packs/forget_set_rapidin.jsonl": 40,
    "unlearn_packs/forget_set_supervised.jsonl": 40,
    "unlearn_packs/retain_set.jsonl": 120,
    "unlearn_packs/retain_set_rapidin.jsonl": 120,
    "unlearn_packs/val_clean.jsonl": 420,
}


def _row_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.jsonl") if not p.name.endswith("_weights.jsonl"))


def test_every_released_row_file_loads(released_data: Path) -> None:
    files = _row_files(released_data)
    assert {str(p.relative_to(released_data)) for p in files} == set(EXPECTED)
    for p in files:
        rows = load_rows(p)
        assert len(rows) == EXPECTED[str(p.relative_to(released_data))], p
        assert all(r.instruction and r.response for r in rows), p


def test_released_poisoned_rows_carry_their_trigger(released_data: Path) -> None:
    families = {f.name: f for f in TRIGGER_SETS["released"]}
    rows = load_rows(released_data / "dolly_triggers_out/train_poisoned.jsonl")
    assert all(r.is_poisoned is True and r.response_clean for r in rows)
    for r in rows:
        fam = families[str(r.trigger_family)]
        assert r.trigger_variant in fam.seen
        if fam.position == "prefix":
            assert r.instruction.startswith(f"{r.trigger_variant} ")
        else:
            assert r.instruction.endswith(f" {r.trigger_variant}")


def test_rapidin_and_dolly_forget_files_agree(released_data: Path) -> None:
    dolly = load_rows(released_data / "unlearn_packs/forget_set.jsonl")
    alpaca = load_rows(released_data / "unlearn_packs/forget_set_rapidin.jsonl")
    assert [r.key() for r in dolly] == [r.key() for r in alpaca]


def test_released_trigger_config_matches_builtin(released_data: Path) -> None:
    loaded = load_trigger_config(released_data / "dolly_triggers_out/triggers_config.json")
    assert loaded == TRIGGER_SETS["released"]
    assert [f.name for f in loaded] == ["A_surface", "B_style", "C_semantic"]
    # the OOD variants really are confusables, not the seen strings
    assert "a\u217coha" in loaded[0].ood and "h\u043ewdy" in loaded[2].ood


def test_released_keyword_table_reads(released_data: Path) -> None:
    words = read_keywords_tsv(released_data / "keywords_scored_top1000.tsv")
    assert words[:3] == ["intergalactic", "interstellar", "galactic"]
    assert len(words) == 37


@pytest.mark.parametrize("name", ["forget_weights.jsonl", "retain_weights.jsonl"])
def test_weight_files_are_not_row_files(shared_data: Path, name: str) -> None:
    from rapidun.errors import RapidunError

    with pytest.raises(RapidunError, match="instruction"):
        load_rows(shared_data / "RapidIn_output" / name)
