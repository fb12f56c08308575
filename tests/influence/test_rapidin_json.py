"""RapidIn results JSON: the released files import, and export -> import round-trips exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rapidun.errors import RapidunError
from rapidun.influence.rapidin_json import import_rapidin_json, read_rapidin_json, write_rapidin_json


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("influence_results_40_FTF.json", (40, 40)),
        ("influence_results_40_FTR.json", (120, 40)),
        ("influence_results_120_RTF.json", (40, 120)),
        ("influence_results_120_RTR.json", (120, 120)),
    ],
)
def test_released_files_import(shared_data, name, shape):
    path = shared_data / "RapidIn_output" / name
    f = read_rapidin_json(path)
    assert f.scores.shape == shape
    assert f.scores.dtype == np.float64
    assert np.isfinite(f.scores).all()
    raw = json.loads(path.read_text())
    e = raw["0"]
    assert f.scores[0, e["helpful"][0]] == e["helpful_infl"][0]
    assert f.scores[0, e["harmful"][0]] == e["harmful_infl"][0]
    assert f.scores[0].max() == e["helpful_infl"][0]
    assert f.test_data[0] == e["test_data"]
    assert f.finished_cnt == raw["finished_cnt"]


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(5, 7)) * 1000
    rows = [{"instruction": f"q{i}", "input": "", "output": "a"} for i in range(5)]
    write_rapidin_json(tmp_path / "r.json", scores, test_data=rows, config="{seed : 1}")
    back = read_rapidin_json(tmp_path / "r.json")
    np.testing.assert_array_equal(back.scores, scores)
    assert back.test_data == rows and back.config == "{seed : 1}" and back.finished_cnt == "35/35"


def test_released_file_round_trips(shared_data, tmp_path):
    f = read_rapidin_json(shared_data / "RapidIn_output" / "influence_results_40_FTF.json")
    write_rapidin_json(tmp_path / "x.json", f.scores, test_data=f.test_data, config=f.config)
    np.testing.assert_array_equal(import_rapidin_json(tmp_path / "x.json"), f.scores)


def test_top_k_needs_fill(tmp_path):
    scores = np.arange(12, dtype=float).reshape(2, 6)
    write_rapidin_json(tmp_path / "k.json", scores, top_k=2)
    with pytest.raises(RapidunError, match="fill value"):
        import_rapidin_json(tmp_path / "k.json")
    got = import_rapidin_json(tmp_path / "k.json", fill=0.0)
    np.testing.assert_array_equal(got, [[0, 1, 0, 0, 4, 5], [6, 7, 0, 0, 10, 11]])


def test_corrupt_files(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"config": "", "1": {}}')
    with pytest.raises(RapidunError, match="missing"):
        import_rapidin_json(p)
    p.write_text(
        '{"config": "", "0": {"test_data": {}, "helpful": [0], "helpful_infl": [], "harmful": [], "harmful_infl": []}}'
    )
    with pytest.raises(RapidunError, match="corrupt"):
        import_rapidin_json(p)
    p.write_text("[1, 2")
    with pytest.raises(RapidunError, match="not valid JSON"):
        import_rapidin_json(p)
