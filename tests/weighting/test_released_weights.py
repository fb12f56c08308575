"""The faithful options reproduce the released RapidUn weights from the released RapidIn JSON (METHOD.md s3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rapidun.cli.main import main
from rapidun.weighting import WeightParams, compute_weights, load_weights, read_rapidin_dir


def _released(path: Path) -> np.ndarray:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert [r["index"] for r in rows] == list(range(len(rows)))
    return np.array([r["weight"] for r in rows])


@pytest.fixture(scope="module")
def released(shared_data: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    d = shared_data / "RapidIn_output"
    return read_rapidin_dir(d), _released(d / "forget_weights.jsonl"), _released(d / "retain_weights.jsonl")


def test_directions_and_shapes(released):
    mats, _, _ = released
    assert {k: v.shape for k, v in mats.items()} == {"FF": (40, 40), "FR": (120, 40), "RF": (40, 120), "RR": (120, 120)}
    assert all(np.isfinite(m).all() for m in mats.values())  # released top_k = 1000 lists every train row
    # TracIn scores are symmetric dot products: FR and RF hold the same numbers, transposed (up to fp noise).
    scale = np.abs(mats["FR"]).max()
    assert np.abs(mats["FR"] - mats["RF"].T).max() < 1e-3 * scale
    assert np.abs(mats["FF"] - mats["FF"].T).max() < 1e-3 * np.abs(mats["FF"]).max()


def test_faithful_reproduces_released_weights(released):
    mats, forget, retain = released
    result = compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], WeightParams.faithful())
    np.testing.assert_allclose(result.forget.weights, forget, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.retain.weights, retain, rtol=0, atol=1e-9)
    # The top-40 truncation collapses the 120 retain weights to three values (0.2, 1, 3 before normalisation).
    assert np.unique(np.round(result.retain.bounded, 9)).tolist() == [0.2, 1.0, 3.0]


def test_default_aggregation_differs_on_retain_only(released):
    mats, forget, retain = released
    result = compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], WeightParams())
    # 40 forget train rows: top-40 keeps everything, so the forget side is identical.
    np.testing.assert_allclose(result.forget.weights, forget, rtol=0, atol=1e-9)
    assert np.unique(np.round(result.retain.weights, 9)).size > 50
    assert np.abs(result.retain.weights - retain).max() > 0.1


def test_cli_faithful_writes_released_files(shared_data: Path, tmp_path: Path, capsys):
    out = tmp_path / "w"
    rc = main(["weights", "--rapidin-dir", str(shared_data / "RapidIn_output"), "--out", str(out), "--faithful"])
    assert rc == 0
    assert "distinct=3" in capsys.readouterr().out
    d = shared_data / "RapidIn_output"
    np.testing.assert_allclose(
        load_weights(out / "forget_weights.jsonl", 40), _released(d / "forget_weights.jsonl"), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        load_weights(out / "retain_weights.jsonl", 120), _released(d / "retain_weights.jsonl"), rtol=0, atol=1e-9
    )
