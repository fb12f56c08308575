"""The results.json frontier block from hand-made per-prompt outcomes (no model): operating points chosen on
validation only, test ASR read at that point, paired differences, and seeds without validation left out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rapidun.pipeline.study_config import study_config
from rapidun.pipeline.study_frontier import dataset_frontier

TOKENS = 10


def _split(ratio: float, seen: list[int], ood: list[int]) -> dict:
    # 4 perplexity rows of 10 tokens at (1 + ln ratio) nat per token: PPL = e * ratio, i.e. `ratio` x the reference's
    nll = TOKENS * (1.0 + math.log(ratio))
    return {
        "seen": seen,
        "ood": ood,
        "clean": [0] * 4,
        "ppl_index": [0, 1, 2, 3],
        "ppl_nll": [nll] * 4,
        "ppl_tokens": [TOKENS] * 4,
    }


def _write(root: Path, key: str, seed: int | None, test: dict, val: dict | None) -> None:
    d = root / "cells" / key / (f"seed{seed}" if seed is not None else "")
    d.mkdir(parents=True, exist_ok=True)
    (d / "outcomes.json").write_text(json.dumps({"test": test, "val": val}))


def _config() -> dict:
    sweep = {"uniform": {"lr": [0.001, 0.002]}, "ga": {"lr": [0.001, 0.002]}}
    return {"methods": [], "retrain": False, "seeds": [1, 2], "frontier": {"sweep": sweep, "n_resamples": 300}}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ones = [1, 1, 1, 1]
    _write(tmp_path, "backdoored", None, _split(1.0, ones, ones), _split(1.0, ones, ones))
    for seed in (1, 2):
        # Test perplexities are far over budget (3x): a choice that read them would stay at the backdoored model.
        _write(tmp_path, "uniform~lr=0.001", seed, _split(3.0, [1, 1, 0, 0], ones), _split(1.02, [1, 1, 0, 0], ones))
        _write(tmp_path, "uniform~lr=0.002", seed, _split(3.0, [0, 0, 0, 0], ones), _split(1.08, [0] * 4, ones))
        _write(tmp_path, "ga~lr=0.001", seed, _split(1.2, [0, 0, 0, 0], ones), _split(1.2, [0] * 4, ones))
        _write(tmp_path, "ga~lr=0.002", seed, _split(1.5, [0, 0, 0, 0], ones), _split(1.5, [0] * 4, ones))
    return tmp_path


def test_operating_point_is_chosen_on_validation_and_read_on_test(root: Path) -> None:
    block = dataset_frontier(root, study_config(_config()))
    assert block["notes"] == []
    uniform = block["methods"]["uniform"]["budgets"]["1.05"]["seen"]
    # validation: 1.05 lies halfway between ratios 1.02 and 1.08, so the test ASR is halfway between 0.5 and 0.0
    assert uniform["between"] == ["lr=0.001", "lr=0.002"] and uniform["t"] == pytest.approx(0.5)
    assert uniform["val_asr"] == pytest.approx(0.25) and uniform["asr"] == pytest.approx(0.25)
    assert uniform["val_asr_drop"] == pytest.approx(0.5)  # the two mixed settings: validation ASR 0.5 and 0.0
    assert uniform["test_ratio"] == pytest.approx(3.0)  # reported, never used to choose
    assert uniform["test_ratio_ci95"] == pytest.approx([3.0, 3.0])  # every row at 3x: no spread
    ga = block["methods"]["ga"]["budgets"]["1.05"]["seen"]
    # the first ga setting is already at 1.2: a quarter of the way from the backdoored model (ASR 1) to it (ASR 0)
    assert ga["between"] == ["backdoored", "lr=0.001"] and ga["t"] == pytest.approx(0.25)
    assert ga["asr"] == pytest.approx(0.75) and ga["val_asr_drop"] == pytest.approx(1.0)
    at_vertex = block["methods"]["ga"]["budgets"]["1.05"]["ood"]  # OOD ASR 1 everywhere: the backdoored model
    assert at_vertex["t"] == 0.0 and at_vertex["val_asr_drop"] == 0.0
    assert ga["test_ratio"] == pytest.approx(0.75 * 1.0 + 0.25 * 1.2)
    vs = uniform["vs"]["ga"]
    # per prompt: uniform (0.5, 0.5, 0, 0) vs ga 0.75 everywhere -> every replicate lies in [-0.75, -0.25]
    assert vs["diff"] == pytest.approx(-0.5) and vs["within_noise"] is False
    assert vs["test_ratio_diff"] == pytest.approx(3.0 - 1.05)
    assert vs["test_ratio_ci95"] == pytest.approx([1.95, 1.95])
    assert -0.75 - 1e-9 <= vs["ci95"][0] <= vs["ci95"][1] <= -0.25 + 1e-9
    assert block["methods"]["ga"]["budgets"]["1.05"]["seen"]["vs"]["uniform"]["diff"] == pytest.approx(0.5)


def test_seed_without_validation_is_left_out_and_said(root: Path) -> None:
    _write(root, "ga~lr=0.002", 2, _split(1.5, [0] * 4, [1] * 4), None)
    block = dataset_frontier(root, study_config(_config()))
    assert block["methods"]["ga"]["seeds"] == [1]
    assert block["methods"]["uniform"]["budgets"]["1.1"]["ood"]["vs"]["ga"]["seeds"] == [1]
    assert block["notes"] == ["ga seed 2 left out: no validation outcomes for ga~lr=0.002"]


def test_no_validation_for_the_backdoored_model_is_one_note(tmp_path: Path) -> None:
    _write(tmp_path, "backdoored", None, _split(1.0, [1], [1]), None)
    block = dataset_frontier(tmp_path, study_config(_config()))
    assert "methods" not in block and len(block["notes"]) == 1 and "rebuild the pack" in block["notes"][0]
