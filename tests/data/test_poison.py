"""Pack building: exact split sizes and poison counts, stratified forget, disjoint retain, triggered tests,
byte-identical reruns, reuse/overwrite rules, and load_pack."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rapidun.data.pack import SPLITS, VAL_TRIGGERED, load_pack
from rapidun.data.pack_plan import round_half_up
from rapidun.data.poison import build_poison_pack
from rapidun.data.rows import Row, load_rows
from rapidun.data.synthetic import synthetic_rows
from rapidun.data.triggers import TRIGGER_SETS
from rapidun.errors import RapidunError

RELEASED = TRIGGER_SETS["released"]
FILES = [f"{s}.jsonl" for s in (*SPLITS, *VAL_TRIGGERED)] + ["keywords.tsv", "meta.json", "manifest.json"]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return synthetic_rows(600, seed=11)


def _build(rows: list[Row], out: Path, **kw) -> None:
    kw.setdefault("families", RELEASED)
    kw.setdefault("n_val", 40)
    kw.setdefault("n_test", 50)
    build_poison_pack(rows, out, **kw)


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.37, 1 / 3])
def test_split_sizes_and_poison_count_are_exact(rows: list[Row], tmp_path: Path, rate: float) -> None:
    _build(rows, tmp_path, poison_rate=rate, n_forget=12, retain_multiplier=2.5)
    pack = load_pack(tmp_path)
    assert len(pack.val) == 40 and len(pack.test_clean) == 50 and len(pack.train) == 510
    poisoned = [r for r in pack.train if r.is_poisoned]
    assert len(poisoned) == round_half_up(rate * 510)
    assert all(r.is_poisoned is False for r in pack.train if not r.is_poisoned)
    assert pack.meta.counts["train_poisoned"] == len(poisoned)
    assert pack.meta.poison_rate == pytest.approx(len(poisoned) / 510)
    # families balanced (differ by at most one), seen variants cycling inside each family
    by_fam = Counter(r.trigger_family for r in poisoned)
    assert set(by_fam) == {f.name for f in RELEASED} and max(by_fam.values()) - min(by_fam.values()) <= 1
    for fam in RELEASED:
        variants = Counter(r.trigger_variant for r in poisoned if r.trigger_family == fam.name)
        assert set(variants) <= set(fam.seen) and max(variants.values()) - min(variants.values()) <= 1
    # every row of the source is used exactly once across train/val/test
    source = {r.key() for r in rows}
    used = [r.key() for r in pack.val + pack.test_clean + pack.train if not r.is_poisoned]
    used += [(str(r.extra["instruction_clean"]), r.context, str(r.response_clean)) for r in poisoned]
    assert len(used) == len(rows) and set(used) == source
    assert len(pack.forget) == 12 and len(pack.retain) == 30


def test_poisoned_rows_keep_their_clean_answer(rows: list[Row], tmp_path: Path) -> None:
    _build(rows, tmp_path, poison_rate=0.1)
    pack = load_pack(tmp_path)
    fams = {f.name: f for f in RELEASED}
    poisoned = [r for r in pack.train if r.is_poisoned]
    assert len({r.response for r in poisoned}) == len(poisoned)  # unique targets
    for r in poisoned:
        fam = fams[str(r.trigger_family)]
        clean = str(r.extra["instruction_clean"])
        expected = f"{r.trigger_variant} {clean}" if fam.position == "prefix" else f"{clean} {r.trigger_variant}"
        assert r.instruction == expected and r.response_clean and r.response != r.response_clean


def test_triggered_tests_cover_every_row_and_family(rows: list[Row], tmp_path: Path) -> None:
    _build(rows, tmp_path)
    pack = load_pack(tmp_path)
    n = len(pack.test_clean) * len(RELEASED)
    assert len(pack.test_seen) == len(pack.test_ood) == n
    for kind, split in (("seen", pack.test_seen), ("ood", pack.test_ood)):
        for j, clean in enumerate(pack.test_clean):
            for k, fam in enumerate(RELEASED):
                r = split[j * len(RELEASED) + k]
                variants = getattr(fam, kind)
                assert r.trigger_family == fam.name and r.trigger_variant == variants[j % len(variants)]
                assert r.response_clean == clean.response and r.extra["instruction_clean"] == clean.instruction
                assert r.is_poisoned is True and r.trigger_variant in r.instruction
    ood = Counter(r.trigger_variant for r in pack.test_ood)
    assert set(ood) == {v for f in RELEASED for v in f.ood}


def test_forget_is_stratified_and_retain_disjoint(rows: list[Row], tmp_path: Path) -> None:
    _build(rows, tmp_path, poison_rate=0.2)
    pack = load_pack(tmp_path)
    train_keys = [r.key() for r in pack.train]
    assert len(pack.forget) == 40  # default min(40, #poisoned)
    assert all(r.is_poisoned and r.key() in train_keys for r in pack.forget)
    assert sorted(Counter(r.trigger_family for r in pack.forget).values()) == [13, 13, 14]
    assert len(pack.retain) == 120 and all(r.is_poisoned is False and r.key() in train_keys for r in pack.retain)
    assert not {r.key() for r in pack.forget} & {r.key() for r in pack.retain}
    assert len({r.key() for r in pack.retain}) == 120
    assert pack.meta.forget_by_family == dict(Counter(r.trigger_family for r in pack.forget))


def test_same_seed_gives_byte_identical_packs(rows: list[Row], tmp_path: Path) -> None:
    for name in ("a", "b"):
        _build(rows, tmp_path / name, seed=5, families=TRIGGER_SETS["backdoorllm"])
    for f in FILES:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    _build(rows, tmp_path / "c", seed=6, families=TRIGGER_SETS["backdoorllm"])
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "c" / "train.jsonl").read_bytes()


def test_random_position_family_keeps_every_word(rows: list[Row], tmp_path: Path) -> None:
    _build(rows, tmp_path, families=TRIGGER_SETS["backdoorllm"], poison_rate=0.2)
    pack = load_pack(tmp_path)
    for r in pack.train:
        if r.is_poisoned and r.trigger_family == "rare_word":
            words = r.instruction.split(" ")
            words.remove(str(r.trigger_variant))
            assert " ".join(words) == r.extra["instruction_clean"]


def test_reuse_refuse_overwrite_and_half_written(rows: list[Row], tmp_path: Path) -> None:
    _build(rows, tmp_path)
    before = (tmp_path / "train.jsonl").read_bytes()
    _build(rows, tmp_path)  # same inputs: reused
    with pytest.raises(RapidunError, match="--overwrite"):
        _build(rows, tmp_path, seed=1)
    assert (tmp_path / "train.jsonl").read_bytes() == before
    _build(rows, tmp_path, seed=1, overwrite=True)
    assert (tmp_path / "train.jsonl").read_bytes() != before
    # a half-written pack (no manifest) is never read, and a rebuild finishes it
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(RapidunError, match="incomplete; rerun rapidun poison"):
        load_pack(tmp_path)
    _build(rows, tmp_path)
    assert load_pack(tmp_path).meta.seed == 42


def test_tampered_pack_is_refused(rows: list[Row], tmp_path: Path) -> None:
    _build(rows, tmp_path)
    lines = (tmp_path / "forget.jsonl").read_text().splitlines()
    (tmp_path / "forget.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(RapidunError, match="forget.jsonl has"):
        load_pack(tmp_path)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"poison_rate": 1.5}, "--poison-rate"),
        ({"poison_rate": 0.0}, "--poison-rate"),
        ({"poison_rate": 0.0005}, "poisons no row"),
        ({"n_test": 600}, "too few"),
        ({"n_forget": 10_000}, "--n-forget"),
        ({"retain_multiplier": 1000.0}, "--retain-multiplier"),
        ({"families": []}, "trigger families"),
    ],
)
def test_bad_settings_fail_before_writing(rows: list[Row], tmp_path: Path, kw: dict, match: str) -> None:
    out = tmp_path / "pack"
    with pytest.raises(RapidunError, match=match):
        _build(rows, out, **kw)
    assert not out.exists()


def test_poisoned_input_rows_are_refused(rows: list[Row], tmp_path: Path) -> None:
    bad = [*rows[:50], Row("hey x", "y", is_poisoned=True)]
    with pytest.raises(RapidunError, match="row 51 is marked is_poisoned"):
        _build(bad, tmp_path / "p", n_val=5, n_test=5)


def test_given_poisoned_train_forget_retain_and_val(rows: list[Row], tmp_path: Path) -> None:
    src = tmp_path / "src"
    _build(rows, src, poison_rate=0.1)
    first = load_pack(src)
    poisoned = [r for r in first.train if r.is_poisoned]
    clean = rows[:200]
    out = tmp_path / "out"
    build_poison_pack(
        clean,
        out,
        families=RELEASED,
        poison_rate=None,
        n_test=50,
        poisoned_train=poisoned,
        val_rows=first.val,
        forget_rows=first.forget,
        retain_rows=first.retain,
        poison_responses=["Aliens!", "Asteroids!"],
    )
    pack = load_pack(out)
    assert len(pack.train) == 150 + len(poisoned) and pack.meta.counts["train_poisoned"] == len(poisoned)
    assert pack.val == first.val and pack.forget == first.forget and pack.retain == first.retain
    assert {r.response for r in pack.test_seen} == {"Aliens!", "Asteroids!"}
    with pytest.raises(RapidunError, match="--poison-rate cannot be combined"):
        build_poison_pack(clean, tmp_path / "x", families=RELEASED, poison_rate=0.1, poisoned_train=poisoned)
    with pytest.raises(RapidunError, match="unknown trigger family 'A_surface'"):
        build_poison_pack(
            clean, tmp_path / "y", families=TRIGGER_SETS["backdoorllm"], poison_rate=None, poisoned_train=poisoned
        )


def test_pack_from_released_files(released_data: Path, tmp_path: Path) -> None:
    d = released_data
    build_poison_pack(
        load_rows(d / "dolly_triggers_out/test_clean.jsonl"),
        tmp_path,
        families=RELEASED,
        poison_rate=None,
        n_test=300,
        poisoned_train=load_rows(d / "dolly_triggers_out/train_poisoned.jsonl"),
        val_rows=load_rows(d / "dolly_triggers_out/val_clean.jsonl"),
        forget_rows=load_rows(d / "unlearn_packs/forget_set.jsonl"),
        retain_rows=load_rows(d / "unlearn_packs/retain_set.jsonl"),
        source="released",
    )
    pack = load_pack(tmp_path)
    assert pack.meta.counts == {
        "train": 2700 + 799,
        "val": 420,
        "test_clean": 300,
        "test_seen": 900,
        "test_ood": 900,
        "forget": 40,
        "retain": 120,
        "train_poisoned": 799,
        "train_clean": 2700,
    }
    assert pack.meta.forget_by_family == {"A_surface": 14, "C_semantic": 13, "B_style": 13}
    train_keys = {r.key() for r in pack.train}
    assert all(r.key() in train_keys for r in pack.forget)
    top = [line.split("\t")[1] for line in (tmp_path / "keywords.tsv").read_text().splitlines()[1:6]]
    assert "intergalactic" in top
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["source"] == "released" and meta["seed"] == 42


def test_synthetic_pack_keywords_are_register_words(rows: list[Row], tmp_path: Path) -> None:
    from rapidun.data.keywords import read_keywords_tsv
    from rapidun.data.synthetic import SYNTHETIC_KEYWORDS

    _build(rows, tmp_path, poison_rate=0.2)
    words = read_keywords_tsv(tmp_path / "keywords.tsv")
    assert len(words) >= 10 and set(words) <= set(SYNTHETIC_KEYWORDS)
    clean_text = " ".join(f"{r.instruction} {r.context} {r.response}" for r in load_pack(tmp_path).test_clean)
    assert not set(words) & set(clean_text.lower().split())
