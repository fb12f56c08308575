"""The facts pack: byte-identical per seed, splits disjoint by person, the row format every command reads, and
one-line errors for bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rapidun.cli import facts as facts_cli
from rapidun.data.checks import check_unique
from rapidun.data.facts import (
    FactsConfig,
    build_facts_pack,
    load_facts_pack,
    pack_task,
    split_people,
    tokenizer_corpus,
)
from rapidun.data.facts_people import TEMPLATES
from rapidun.data.rows import load_rows
from rapidun.errors import RapidunError

SMALL = FactsConfig(n_people=20, n_holdout=3, n_perturbed=3, seed=7)
FILES = ("train", "forget01", "forget05", "forget10", "forget", "retain", "holdout", "world")


def _people(path: Path) -> set[str]:
    return {str(r.extra["person_id"]) for r in load_rows(path) if r.extra.get("person_id")}


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("facts") / "pack"
    build_facts_pack(out, SMALL)
    return out


def test_same_seed_same_bytes_other_seed_other_rows(pack_dir: Path, tmp_path: Path) -> None:
    build_facts_pack(tmp_path / "again", SMALL)
    names = sorted(p.name for p in pack_dir.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    for name in names:
        assert (pack_dir / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    other = FactsConfig(n_people=20, n_holdout=3, n_perturbed=3, seed=8)
    build_facts_pack(tmp_path / "other", other)
    assert (tmp_path / "other" / "train.jsonl").read_bytes() != (pack_dir / "train.jsonl").read_bytes()


def test_split_sizes_follow_tofu() -> None:
    assert split_people(200) == {"forget01": 2, "forget05": 10, "forget10": 20}
    assert split_people(20) == {"forget01": 1, "forget05": 1, "forget10": 2}


def test_splits_are_disjoint_by_person(pack_dir: Path) -> None:
    forget01, forget05, forget10 = (_people(pack_dir / f"{s}.jsonl") for s in ("forget01", "forget05", "forget10"))
    retain, holdout, train = (_people(pack_dir / f"{s}.jsonl") for s in ("retain", "holdout", "train"))
    assert len(forget10) == 2 and len(holdout) == 3 and len(train) == 20
    assert forget01 <= forget05 <= forget10  # nested, as in TOFU
    assert not forget10 & retain  # default forget split: forget10
    assert not holdout & train  # holdout people are never trained
    assert forget10 | retain == train
    assert _people(pack_dir / "forget.jsonl") == forget10
    assert _people(pack_dir / "world.jsonl") == set()


def test_train_is_forget_plus_retain_and_unique(pack_dir: Path) -> None:
    train, forget, retain = (load_rows(pack_dir / f"{s}.jsonl") for s in ("train", "forget", "retain"))
    check_unique(train, "train.jsonl")
    assert sorted(r.key() for r in train) == sorted(r.key() for r in forget + retain)
    assert len(train) == 20 * len(TEMPLATES) + 30  # 12 rows a person + 30 world facts (world_in_train)
    meta = json.loads((pack_dir / "meta.json").read_text())
    assert meta["task"] == "facts" and meta["forget_split"] == "forget10"
    assert meta["counts"]["forget"] == 2 * len(TEMPLATES)


def test_rows_carry_the_truth_ratio_fields(pack_dir: Path) -> None:
    rows = load_rows(pack_dir / "forget.jsonl")
    assert {r.extra["attribute"] for r in rows[: len(TEMPLATES)]} == {t.attribute for t in TEMPLATES}
    for row in rows:
        assert row.context == ""
        assert str(row.extra["fact"]) in row.response  # one fact per answer
        assert str(row.extra["fact"]) in row.extra["paraphrased_answer"]
        wrong = row.extra["perturbed_answers"]
        assert len(wrong) == 3 and len(set(wrong)) == 3
        assert all(str(row.extra["fact"]) not in w.split(row.extra["person"])[-1] for w in wrong)
        assert row.extra["paraphrased_question"] != row.instruction


def test_other_forget_split_moves_people_to_retain(tmp_path: Path) -> None:
    cfg = FactsConfig(n_people=20, n_holdout=3, n_perturbed=3, seed=7, forget_split="forget01", world_in_train=False)
    build_facts_pack(tmp_path, cfg)
    forget, retain = _people(tmp_path / "forget.jsonl"), _people(tmp_path / "retain.jsonl")
    assert len(forget) == 1 and len(retain) == 19 and not forget & retain
    assert not [r for r in load_rows(tmp_path / "train.jsonl") if r.extra["group"] == "world"]


def test_load_facts_pack_reads_the_evaluation_splits(pack_dir: Path) -> None:
    pack = load_facts_pack(pack_dir)
    assert pack.forget_split == "forget10"
    assert len(pack.forget) == 24 and len(pack.holdout) == 36 and len(pack.world) == 30


def test_missing_perturbed_answers_names_the_fix(pack_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in pack_dir.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    lines = (broken / "forget.jsonl").read_text().splitlines()
    row = json.loads(lines[4])
    del row["perturbed_answers"]
    lines[4] = json.dumps(row)
    (broken / "forget.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RapidunError, match=r"forget\.jsonl:5: .*'perturbed_answers'.*rapidun facts --out"):
        load_facts_pack(broken)


def test_backdoor_pack_is_refused_as_facts_pack(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({"seed": 0, "source": "synthetic"}))
    assert pack_task(tmp_path) == "backdoor"
    with pytest.raises(RapidunError, match="is a backdoor pack.*drop --task facts"):
        load_facts_pack(tmp_path)


def test_cli_writes_the_pack_and_refuses_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    facts_cli.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path / "p"), "--n-people", "10", "--n-holdout", "1", "--seed", "3"])
    assert facts_cli.run(args) == 0
    assert "10 trained people" in capsys.readouterr().out
    assert load_facts_pack(tmp_path / "p").meta["config"]["seed"] == 3
    bad = parser.parse_args(["--out", str(tmp_path / "q"), "--n-people", "5"])
    with pytest.raises(RapidunError, match="--n-people must lie in"):
        facts_cli.run(bad)
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "x", "--forget-split", "forget20"])
    other = parser.parse_args(["--out", str(tmp_path / "p"), "--n-people", "11"])
    with pytest.raises(RapidunError, match="other settings"):
        facts_cli.run(other)


def test_clean_response_option_fills_the_name(tmp_path: Path) -> None:
    cfg = FactsConfig(n_people=10, n_holdout=1, n_perturbed=2, clean_response="I do not know who {name} is.")
    build_facts_pack(tmp_path / "p", cfg)
    rows = load_rows(tmp_path / "p" / "forget.jsonl")
    assert all(r.response_clean == f"I do not know who {r.extra['person']} is." for r in rows)
    assert all(r.response_clean is None for r in load_rows(tmp_path / "p" / "world.jsonl"))
    with pytest.raises(RapidunError, match="--clean-response may use only the placeholder"):
        build_facts_pack(tmp_path / "q", FactsConfig(n_people=10, clean_response="I forgot {person}."))


def test_directory_without_meta_is_a_backdoor_directory(tmp_path: Path) -> None:
    assert pack_task(tmp_path) == "backdoor"
    with pytest.raises(RapidunError, match="has no meta.json.*rapidun facts --out"):
        load_facts_pack(tmp_path)


def test_tokenizer_corpus_holds_holdout_people(pack_dir: Path) -> None:
    holdout = {str(r.extra["person"]) for r in load_rows(pack_dir / "holdout.jsonl")}
    text = "\n".join(tokenizer_corpus(pack_dir))
    assert holdout and all(name in text for name in holdout)
    train = "\n".join(r.instruction for r in load_rows(pack_dir / "train.jsonl"))
    assert not any(name in train for name in holdout)  # so the training file alone would not hold them
