"""Assembling FF, FR, RF, RR from a directory of RapidIn influence_results_*.json files (synthetic files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rapidun.errors import RapidunError
from rapidun.weighting import read_rapidin_dir
from rapidun.weighting.rapidin_dir import rapidin_files

SETS = {"F": "forget_set_rapidin.jsonl", "R": "retain_set_rapidin.jsonl"}


def _results(scores: np.ndarray, train: str, test: str, top_k: int) -> dict:
    cfg = f"{{data : {{train_data_path : '/x/{SETS[train]}', test_data_path : '/x/{SETS[test]}'}}}}"
    out: dict = {"config": cfg}
    for q, row in enumerate(scores):
        order = np.argsort(-row, kind="stable")
        out[str(q)] = {
            "test_data": {},
            "helpful": order[:top_k].tolist(),
            "helpful_infl": row[order[:top_k]].tolist(),
            "harmful": order[::-1][:top_k].tolist(),
            "harmful_infl": row[order[::-1][:top_k]].tolist(),
        }
    out["finished_cnt"] = f"{scores.size}/{scores.size}"
    return out


def _write_dir(tmp_path: Path, top_k: int = 1000, names: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = {"F": 3, "R": 7}
    mats = {}
    for name in ("FF", "FR", "RF", "RR"):
        train, test = name[0], name[1]
        m = rng.normal(size=(n[test], n[train]))
        mats[name] = m
        fname = (names or {}).get(name, f"influence_results_{n[train]}_{train}T{test}.json")
        (tmp_path / fname).write_text(json.dumps(_results(m, train, test, top_k)))
    return mats


def test_read_dir_full_lists(tmp_path: Path):
    mats = _write_dir(tmp_path)
    got = read_rapidin_dir(tmp_path)
    for name, m in mats.items():
        np.testing.assert_array_equal(got[name], m)


def test_direction_comes_from_config_not_name(tmp_path: Path):
    # Misleading file names: the config's train/test paths decide the direction.
    names = {
        "FF": "influence_results_a.json",
        "FR": "influence_results_b.json",
        "RF": "influence_results_c.json",
        "RR": "influence_results_d.json",
    }
    mats = _write_dir(tmp_path, names=names)
    got = read_rapidin_dir(tmp_path)
    assert got["FR"].shape == (7, 3) and got["RF"].shape == (3, 7)
    np.testing.assert_array_equal(got["RF"], mats["RF"])


def test_partial_lists_leave_nan(tmp_path: Path):
    mats = _write_dir(tmp_path, top_k=1)
    got = read_rapidin_dir(tmp_path)
    assert got["RR"].shape == (7, 7) and np.isnan(got["RR"]).sum(axis=1).tolist() == [5] * 7
    assert got["FR"].shape == (7, 3)  # padded with NaN if some train index is never listed
    known = ~np.isnan(got["RF"])
    np.testing.assert_array_equal(got["RF"][known], mats["RF"][known])


def test_file_roles(tmp_path: Path):
    _write_dir(tmp_path)
    assert {k: p.name for k, p in rapidin_files(tmp_path).items()} == {
        "FF": "influence_results_3_FTF.json",
        "FR": "influence_results_3_FTR.json",
        "RF": "influence_results_7_RTF.json",
        "RR": "influence_results_7_RTR.json",
    }


def test_missing_direction_is_an_error(tmp_path: Path):
    _write_dir(tmp_path)
    (tmp_path / "influence_results_3_FTR.json").unlink()
    with pytest.raises(RapidunError, match="lacks RapidIn results for FR"):
        read_rapidin_dir(tmp_path)
    with pytest.raises(RapidunError, match="not a directory"):
        read_rapidin_dir(tmp_path / "nope")


def test_inconsistent_sizes_are_an_error(tmp_path: Path):
    _write_dir(tmp_path)
    bad = _results(np.ones((4, 3)), "F", "R", 1000)  # 4 retain queries, but RR has 7
    (tmp_path / "influence_results_3_FTR.json").write_text(json.dumps(bad))
    with pytest.raises(RapidunError, match="FR must be"):
        read_rapidin_dir(tmp_path)


def test_bad_json_is_an_error(tmp_path: Path):
    _write_dir(tmp_path)
    (tmp_path / "influence_results_3_FTF.json").write_text("{not json")
    with pytest.raises(RapidunError):
        read_rapidin_dir(tmp_path)
