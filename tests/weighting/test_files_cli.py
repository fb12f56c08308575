"""Weight files (write, validate) and the ``rapidun weights`` CLI on synthetic influence scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from rapidun.artifacts import write_manifest
from rapidun.cli.main import main
from rapidun.errors import RapidunError
from rapidun.weighting import WeightParams, compute_weights, load_weights

N_F, N_R = 5, 12


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_load_weights_roundtrip(tmp_path: Path):
    p = _write(tmp_path / "w.jsonl", ['{"index": 1, "weight": 2.5}', '{"index": 0, "weight": 0.5}'])
    np.testing.assert_array_equal(load_weights(p, 2), [0.5, 2.5])


@pytest.mark.parametrize(
    ("lines", "n_rows", "match"),
    [
        (['{"index": 0, "weight": 1.0}'], 2, "no weight for 1 of 2"),
        (['{"index": 0, "weight": 1.0}', '{"index": 2, "weight": 1.0}'], 2, "index 2 does not match"),
        (['{"index": 0, "weight": 1.0}', '{"index": 0, "weight": 1.0}'], 1, "appears twice"),
        (['{"index": 0, "weight": NaN}'], 1, "finite number > 0"),
        (['{"index": 0, "weight": -0.5}'], 1, "finite number > 0"),
        (['{"index": 0, "weight": 0}'], 1, "finite number > 0"),
        (['{"index": 0, "weight": Infinity}'], 1, "finite number > 0"),
        (['{"index": "0", "weight": 1.0}'], 1, "does not match"),
        (['{"weight": 1.0}'], 1, "'index' and 'weight'"),
        (["not json"], 1, "not valid JSON"),
    ],
)
def test_load_weights_rejects_bad_files(tmp_path: Path, lines: list[str], n_rows: int, match: str):
    p = _write(tmp_path / "w.jsonl", lines)
    with pytest.raises(RapidunError, match=match):
        load_weights(p, n_rows)


def test_load_weights_missing_file(tmp_path: Path):
    with pytest.raises(RapidunError, match="cannot read"):
        load_weights(tmp_path / "nope.jsonl", 3)


def _influence_dir(tmp_path: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    mats = {
        "FF": rng.normal(size=(N_F, N_F)).astype(np.float32),
        "FR": rng.normal(size=(N_R, N_F)).astype(np.float32),
        "RF": rng.normal(size=(N_F, N_R)).astype(np.float32),
        "RR": rng.normal(size=(N_R, N_R)).astype(np.float32),
    }
    d = tmp_path / "influence"
    d.mkdir()
    save_file(mats, str(d / "scores.safetensors"))
    write_manifest(d, {"stage": "influence"})
    return d, mats


def test_cli_round_trip(tmp_path: Path, capsys):
    infl, mats = _influence_dir(tmp_path)
    out = tmp_path / "weights"
    assert main(["weights", "--influence", str(infl), "--out", str(out), "--tau-f", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "wrote rapidun weights" in text and "forget: n=5" in text and "retain: n=12" in text
    expected = compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], WeightParams(tau_f=0.5))
    np.testing.assert_allclose(load_weights(out / "forget_weights.jsonl", N_F), expected.forget.weights, atol=1e-12)
    np.testing.assert_allclose(load_weights(out / "retain_weights.jsonl", N_R), expected.retain.weights, atol=1e-12)
    summary = json.loads((out / "weights.json").read_text())
    assert summary["params"]["tau_f"] == 0.5 and summary["params"]["aggregation"] == "median"
    for group, n in (("forget", N_F), ("retain", N_R)):
        s = summary[group]
        assert s["n"] == n and len(s["scores"]) == n and abs(s["mean"] - 1) < 1e-9
        assert {"min", "max", "median", "std", "at_w_min", "at_w_max"} <= set(s)
    assert (out / "weights_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "weights" and manifest["config"]["source"]["kind"] == "influence"

    # Same command again: reused, not recomputed. Other settings: refused unless --overwrite.
    assert main(["weights", "--influence", str(infl), "--out", str(out), "--tau-f", "0.5"]) == 0
    assert "reused" in capsys.readouterr().out
    assert main(["weights", "--influence", str(infl), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["weights", "--influence", str(infl), "--out", str(out), "--weighting", "uniform", "--overwrite"]) == 0
    np.testing.assert_array_equal(load_weights(out / "forget_weights.jsonl", N_F), np.ones(N_F))
    np.testing.assert_array_equal(load_weights(out / "retain_weights.jsonl", N_R), np.ones(N_R))


def test_cli_errors(tmp_path: Path, capsys):
    infl, mats = _influence_dir(tmp_path)
    out = str(tmp_path / "w")
    # Unfinished influence stage (no manifest).
    (infl / "manifest.json").unlink()
    assert main(["weights", "--influence", str(infl), "--out", out]) == 2
    assert "not a finished influence directory" in capsys.readouterr().err
    write_manifest(infl, {"stage": "influence"})
    # Flags that the named weighting fixes.
    assert main(["weights", "--influence", str(infl), "--out", out, "--weighting", "self_only", "--beta", "2"]) == 2
    assert "--beta" in capsys.readouterr().err
    # Wrong shapes and NaN scores.
    save_file({**mats, "FR": mats["RF"]}, str(infl / "scores.safetensors"))
    assert main(["weights", "--influence", str(infl), "--out", out]) == 2
    assert "FR must be" in capsys.readouterr().err
    save_file({**mats, "RR": np.full((N_R, N_R), np.nan, dtype=np.float32)}, str(infl / "scores.safetensors"))
    assert main(["weights", "--influence", str(infl), "--out", out]) == 2
    assert "NaN" in capsys.readouterr().err
    assert not (tmp_path / "w" / "manifest.json").exists()


def test_cli_faithful_flag_and_topk(tmp_path: Path):
    infl, mats = _influence_dir(tmp_path, seed=3)
    out = tmp_path / "w"
    assert main(["weights", "--influence", str(infl), "--out", str(out), "--faithful", "--top-k", "3"]) == 0
    expected = compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], WeightParams.faithful(top_k=3))
    np.testing.assert_allclose(load_weights(out / "retain_weights.jsonl", N_R), expected.retain.weights, atol=1e-12)
    assert json.loads((out / "weights.json").read_text())["params"]["top_k"] == 3
