"""Triggered validation rows (``val_seen.jsonl``, ``val_ood.jsonl``): built like the triggered tests from the val rows,
with their own RNG, so adding them changed no other file of a pack (checked against hashes of packs built by the
code before they existed), and read back as empty lists from packs that predate them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rapidun.data.pack import load_pack
from rapidun.data.poison import build_poison_pack
from rapidun.data.synthetic import synthetic_rows
from rapidun.data.triggers import TRIGGER_SETS
from rapidun.errors import RapidunError

# sha256 of each file of three packs built by the code before val_seen/val_ood existed (commit 0cec179);
# manifest.json is left out: it now lists the two new files.
BEFORE_VAL_TRIGGERED = {
    "released": {
        "forget.jsonl": "b238b0e4a8c249199c2026e183d95ae85d560cc4dec322e159697aa91aaa4807",
        "keywords.tsv": "a548308352e7fef0bc318cb7cc63fd71f947281cd9550f92a4ea582d55ee2fa7",
        "meta.json": "80308cdc46ef466762df6f7d26ee6d01d1063e68ff7d669a0460fbc0dbad4172",
        "retain.jsonl": "e5774e5e6a73b66959c887917822ac5b9398361dc42990d477106d55c31a927a",
        "test_clean.jsonl": "a6baad5e92c414a0cd5fcde4fa3dbfa1e857de11b974de0be81e124b790244a2",
        "test_ood.jsonl": "28cdbb5ef303309eb19bfa3d2d96f5e10b7fe3090295c913a64a282144ffbf52",
        "test_seen.jsonl": "eb084672f99aa8d973e692fd5514ba58894d2799d2f11d73c82a45720fcd0f74",
        "train.jsonl": "d39dd18045589558afefd4eda9855bc0cf2cc334cc224d39af77f7b87dde685d",
        "val.jsonl": "7dfb9fc873976ed17313d805483ad5ca37cc1c99f52d5fba206a8ee13802d020",
    },
    "backdoorllm": {
        "forget.jsonl": "39cb3dfc9711fb5d422b8c90c08e44c3a79077fb2d2f16eaea4cdb6b7536c46f",
        "keywords.tsv": "a548308352e7fef0bc318cb7cc63fd71f947281cd9550f92a4ea582d55ee2fa7",
        "meta.json": "87665f287b1496b1f292c8aaa7002abd13df0dfcf5fa87997aa23673ea37dfbb",
        "retain.jsonl": "e5774e5e6a73b66959c887917822ac5b9398361dc42990d477106d55c31a927a",
        "test_clean.jsonl": "a6baad5e92c414a0cd5fcde4fa3dbfa1e857de11b974de0be81e124b790244a2",
        "test_ood.jsonl": "9cdb11b7a35fb1fde99e4f66e5601a0b0dc2785bf42092634163b527cd9063da",
        "test_seen.jsonl": "017208043ba640ea5d14d3ead2bfcd202fb08d8beef79e91ec151eda6eab4f30",
        "train.jsonl": "3b6a78acd6d7ee04ca69d3a758b601db00756d568216a4a3bb8d85ac3f8b73c3",
        "val.jsonl": "7dfb9fc873976ed17313d805483ad5ca37cc1c99f52d5fba206a8ee13802d020",
    },
    "given_resp": {
        "forget.jsonl": "3f3f8fb9445142104ef2a1d725d93a439b5c5ac142eb438fa026c77c7358b17b",
        "keywords.tsv": "32ac664603d06834124487510903b0bfb6515bb39c2d9256448dd8cb2cb6c1f8",
        "meta.json": "84ae001d547e972a36bb2b3b063c41c5776627ff0af6368db9a13ada9438966c",
        "retain.jsonl": "a1251264740a4bfe5103c7b784e64f78d4ab874bca2bbcf06c7296a55acc7a11",
        "test_clean.jsonl": "4220fa5a808b7feb1a32bbe32e5ae563a8d771b5569660de150720d9e77aa797",
        "test_ood.jsonl": "2e2100936ce550a9180b18315d3bfa2a1f7dafa73ddda2c7af7db47154c42465",
        "test_seen.jsonl": "8f79d2e87ac64a8f430a70514eb0df54fa4dfe879989fbc9722eb6c894892b40",
        "train.jsonl": "f252339161c31d3dd31474be32dfd8809d121aaeea1b381fa1b93315b4a90c8a",
        "val.jsonl": "a5400be96e78312cdf8127430e2e89302c93239b75da537a576b359187f0a3de",
    },
}

CASES: dict[str, dict[str, Any]] = {
    "released": {"families": TRIGGER_SETS["released"], "seed": 7, "poison_rate": 0.1, "n_forget": 8},
    "backdoorllm": {"families": TRIGGER_SETS["backdoorllm"], "seed": 7, "poison_rate": 0.1, "n_forget": 8},
    "given_resp": {
        "families": TRIGGER_SETS["backdoorllm"],
        "seed": 3,
        "poison_responses": ["a b c", "d e f", "g h"],
    },
}


def _build(case: str, out: Path) -> None:
    build_poison_pack(synthetic_rows(300, seed=11), out, n_val=20, n_test=25, **CASES[case])


@pytest.mark.parametrize("case", sorted(CASES))
def test_other_files_are_byte_identical_to_before(case: str, tmp_path: Path) -> None:
    _build(case, tmp_path)
    expected = BEFORE_VAL_TRIGGERED[case]
    got = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in expected}
    assert got == expected
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["files"][-2:] == ["val_seen.jsonl", "val_ood.jsonl"]


@pytest.mark.parametrize("case", ["released", "backdoorllm"])
def test_val_rows_carry_each_familys_seen_and_ood_trigger(case: str, tmp_path: Path) -> None:
    _build(case, tmp_path)
    pack = load_pack(tmp_path)
    fams = pack.families
    assert len(pack.val_seen) == len(pack.val_ood) == len(pack.val) * len(fams) == 20 * len(fams)
    for split, variants in ((pack.val_seen, "seen"), (pack.val_ood, "ood")):
        for k, row in enumerate(split):
            source = pack.val[k // len(fams)]
            fam = fams[k % len(fams)]
            assert row.is_poisoned and row.trigger_family == fam.name
            assert row.trigger_variant in getattr(fam, variants) and row.trigger_variant in row.instruction
            assert row.extra["instruction_clean"] == source.instruction and row.response_clean == source.response
    # validation rows are not test rows: nothing selected on them can have seen a test row
    assert not {r.key() for r in pack.val} & {r.key() for r in pack.test_clean}


def test_old_pack_loads_and_is_completed_on_rebuild(tmp_path: Path) -> None:
    _build("released", tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "manifest.json"}
    # what a pack made before these files looks like: neither file, nor their entries in the manifest
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["files"] = manifest["files"][:-2]
    del manifest["val_triggered_counts"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    for name in ("val_seen.jsonl", "val_ood.jsonl"):
        (tmp_path / name).unlink()
    pack = load_pack(tmp_path)
    assert pack.val_seen == [] and pack.val_ood == [] and len(pack.val) == 20
    _build("released", tmp_path)  # same inputs: the missing files are added, nothing else changes
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "manifest.json"} == before


def test_tampered_val_file_is_refused(tmp_path: Path) -> None:
    _build("released", tmp_path)
    lines = (tmp_path / "val_seen.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "val_seen.jsonl").write_text("".join(lines[:-1]))
    with pytest.raises(RapidunError, match="val_seen.jsonl has"):
        load_pack(tmp_path)
