"""The released Dolly data shipped as package data: its licence and notice travel with it, `rapidun poison --data
released-dolly` builds the pack the README's long command builds from ../shared, and a study names it by source."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rapidun.cli.main import main
from rapidun.data.pack import load_pack
from rapidun.data.released import RELEASED_N_TEST, released_dir, released_inputs
from rapidun.data.rows import load_rows

ASSETS = Path(__file__).resolve().parents[2] / "src" / "rapidun" / "data" / "assets" / "released"
# Fields of meta.json / manifest.json that name where the inputs were read from (a path), not what they hold.
WHERE = ("source", "trigger_set")


def test_licence_and_attribution_ship_with_the_rows() -> None:
    notice = (ASSETS / "NOTICE.md").read_text()
    for needed in ("databricks-dolly-15k", "CC BY-SA 3.0", "Databricks", "RapidUn authors", "same licence"):
        assert needed in notice, needed
    assert (ASSETS / "LICENSE").read_text().startswith("MIT License")
    assert not list(ASSETS.rglob("RapidIn_output*")) and not list(ASSETS.rglob("*.jsonl")), "ship .gz only"
    # package data is declared so a wheel carries the nested folders too
    pyproject = (ASSETS.parents[3].parent / "pyproject.toml").read_text()
    assert "data/assets/released/*/*" in pyproject


def test_unpacked_files_are_the_gzip_contents() -> None:
    root = released_dir()
    for gz in ASSETS.rglob("*.gz"):
        name = gz.relative_to(ASSETS).as_posix()[: -len(".gz")]
        assert (root / name).read_bytes() == gzip.decompress(gz.read_bytes()), name
    assert released_dir() == root  # reused, not unpacked again


def test_shipped_copy_is_the_release(shared_data: Path) -> None:
    root = released_dir()
    for gz in ASSETS.rglob("*.gz"):
        name = gz.relative_to(ASSETS).as_posix()[: -len(".gz")]
        assert (root / name).read_bytes() == (shared_data / name).read_bytes(), name


def _meta_without_paths(path: Path) -> dict:
    meta = json.loads(path.read_text())
    config = meta.get("config", meta)
    return {k: v for k, v in config.items() if k not in WHERE} | {"_rest": {k for k in meta if k != "config"}}


def _readme_command(d: Path, out: Path) -> list[str]:
    t, u = d / "dolly_triggers_out", d / "unlearn_packs"
    return [
        "-q",
        "poison",
        "--data",
        str(t / "test_clean.jsonl"),
        "--val-data",
        str(t / "val_clean.jsonl"),
        "--poisoned-train",
        str(t / "train_poisoned.jsonl"),
        "--triggers",
        str(t / "triggers_config.json"),
        "--forget",
        str(u / "forget_set.jsonl"),
        "--retain",
        str(u / "retain_set.jsonl"),
        "--n-test",
        str(RELEASED_N_TEST),
        "--out",
        str(out),
    ]


@pytest.fixture(scope="module")
def released_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "pack"
    assert main(["-q", "poison", "--data", "released-dolly", "--out", str(out)]) == 0
    return out


def test_released_dolly_pack_builds(released_pack: Path) -> None:
    pack = load_pack(released_pack)
    assert pack.meta.counts["test_clean"] == 1000 and pack.meta.counts["train_poisoned"] == 799
    assert pack.meta.counts["forget"] == 40 and pack.meta.counts["retain"] == 120 and pack.meta.counts["val"] == 420
    assert json.loads((released_pack / "meta.json").read_text())["source"] == "released-dolly"


def _compare(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name in ("meta.json", "manifest.json"):
            assert _meta_without_paths(a / name) == _meta_without_paths(b / name), name
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_released_dolly_is_the_readme_pack(released_pack: Path, shared_data: Path, tmp_path: Path) -> None:
    """Byte-identical row files and keywords; meta/manifest equal but for the fields naming the input paths."""
    assert main(_readme_command(shared_data, tmp_path / "readme")) == 0
    _compare(released_pack, tmp_path / "readme")


def test_released_dolly_equals_the_long_command_on_the_shipped_files(released_pack: Path, tmp_path: Path) -> None:
    """Runs without ../shared: the long command given the shipped copy's paths builds the same pack."""
    assert main(_readme_command(released_dir(), tmp_path / "long")) == 0
    _compare(released_pack, tmp_path / "long")


def test_explicit_flags_override_the_released_defaults(tmp_path: Path) -> None:
    out = tmp_path / "p"
    assert main(["-q", "poison", "--data", "released-dolly", "--n-test", "200", "--out", str(out)]) == 0
    assert load_pack(out).meta.counts["test_clean"] == 200


def test_study_source_names_the_shipped_data(tmp_path: Path) -> None:
    import yaml

    from rapidun.pipeline.datasets import materialise_pack
    from rapidun.pipeline.study_config import study_config

    config = Path(__file__).resolve().parents[2] / "configs" / "dolly_released.yaml"
    cfg = study_config(yaml.safe_load(config.read_text()))
    spec = cfg.datasets[0]
    assert spec.source == "released-dolly" and not spec.files and "shared" not in config.read_text().split("name:")[1]
    pack = materialise_pack(spec, tmp_path / "pack")
    assert pack.meta.counts["test_clean"] == 600 and pack.meta.counts["train_poisoned"] == 799
    released_forget = load_rows(released_inputs()["forget"])
    assert sorted(r.key() for r in pack.forget) == sorted(r.key() for r in released_forget)
