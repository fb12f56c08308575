"""The architecture matrix: on a tiny model of every family, poison -> train -> influence -> weights -> unlearn
(rapidun) -> evaluate through the CLI with no architecture-specific flag, the adapter covering attention and MLP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from arch_models import EXPECTED_TARGETS, FAMILIES

from rapidun.cli.main import main

SHORT = ["--max-length", "48", "--no-progress"]


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("matrix") / "pack"
    assert main(["-q", "poison", "--data", "synthetic", "--n-rows", "40", "--seed", "1", "--out", str(out)]) == 0
    return out


def _pipeline(arch: str, pack: Path, root: Path) -> None:
    model, infl, weights, adapter = root / "model", root / "infl", root / "w", root / "un"
    sets = ["--forget", str(pack / "forget.jsonl"), "--retain", str(pack / "retain.jsonl")]
    steps = [
        ["train", "--arch", arch, "--model", "nano", "--data", str(pack), "--out", str(model), "--max-steps", "2"],
        ["influence", "--model", str(model), *sets, "--out", str(infl), "--dim", "128"],
        ["weights", "--influence", str(infl), "--out", str(weights)],
        ["unlearn", "--model", str(model), *sets, "--method", "rapidun", "--weights", str(weights)],
        ["evaluate", "--model", str(model), "--adapter", str(adapter), "--data", str(pack), "--out", str(root / "ev")],
    ]
    steps[0] += ["--batch-size", "4", *SHORT]
    steps[1] += SHORT
    steps[3] += ["--out", str(adapter), "--epochs", "1", "--batch-size", "4", *SHORT]
    steps[4] += ["--max-eval", "3", "--max-new-tokens", "3", "--no-progress"]
    for argv in steps:
        assert main(["-q", *argv]) == 0, argv[0]


@pytest.mark.parametrize("arch", FAMILIES)  # all eleven take ~10 s together on 2 cores
def test_end_to_end(arch: str, pack: Path, tmp_path: Path) -> None:
    _pipeline(arch, pack, tmp_path)
    attention, mlp = EXPECTED_TARGETS[arch]
    adapter = json.loads((tmp_path / "un" / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == attention | mlp
    run = json.loads((tmp_path / "un" / "run.json").read_text())
    assert set(run["config"]["train"]["lora"]["targets"]) == attention | mlp  # the resolved list, not "auto"
    manifest = json.loads((tmp_path / "infl" / "manifest.json").read_text())
    tracked = {t["name"].split(".")[-1] for t in manifest["tracked_layers"]}
    assert tracked == attention | mlp  # influence tracks what LoRA adapts
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["counts"]["seen"] == 3
