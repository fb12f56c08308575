"""benchmarks/influence_validity.py: its statistics helpers (fast) and the whole script at a toy scale (slow)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from bench_scripts import load_script


@pytest.fixture(scope="module")
def iv():
    return load_script("influence_validity")


def test_ranks_average_ties(iv):
    assert iv._ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]


def test_fidelity_of_identical_and_reversed_scores(iv):
    rng = np.random.default_rng(0)
    s = rng.normal(size=(5, 30))
    same = iv.fidelity(s, s, 10)
    assert all(math.isclose(v, 1.0) for v in same.values())
    rev = iv.fidelity(-s, s, 10)
    assert math.isclose(rev["pearson_pairs"], -1.0) and math.isclose(rev["spearman_per_query_mean"], -1.0)
    assert rev["top10_overlap_per_query_mean"] == 0.0 and rev["topk_overlap_mean_score"] == 0.0


def test_mcnemar_exact(iv):
    a = [True] * 6 + [False] * 4
    b = [False] * 6 + [False] * 4
    res = iv.mcnemar_p(a, b)  # 6 discordant pairs all one way: p = 2 / 2**6
    assert res == {"only_first": 6, "only_second": 0, "p": 2 / 64}
    assert iv.mcnemar_p(a, a)["p"] == 1.0


def test_removal_sets(iv):
    order = np.array([4, 2, 0, 1, 3, 5])
    sets = iv.removal_sets(order, 2, 2, True, seed=1)
    assert sets["top"] == [2, 4] and sets["bottom"] == [3, 5]
    assert len(sets["random1"]) == len(sets["random2"]) == 2
    assert sets == iv.removal_sets(order, 2, 2, True, seed=1)  # seeded


@pytest.mark.slow
def test_script_end_to_end_toy_scale(iv, tmp_path):
    out = tmp_path / "iv.json"
    argv = [
        "--model",
        "nano",
        "--rows",
        "300",
        "--epochs",
        "1",
        "--n-query",
        "6",
        "--n-eval",
        "12",
        "--n-clean",
        "6",
        "--max-new-tokens",
        "8",
        "--random-draws",
        "1",
        "--max-length",
        "96",
        "--dim",
        "512",
        "--out",
        str(out),
    ]
    assert iv.main(argv) == 0
    res = json.loads(out.read_text())
    assert [r["seed"] for r in res["runs"]] == [42] and res["aggregate"]["n_seeds"] == 1
    run = res["runs"][0]
    k = run["settings"]["k"]
    assert k == round(0.5 * run["data"]["n_poisoned"])
    assert set(run["models"]) == {"full", "minus_top", "minus_random1", "minus_bottom"}
    for name, m in run["models"].items():
        assert m["n_rows"] == run["data"]["n_train"] - (0 if name == "full" else k)
        assert 0.0 <= m["asr_seen"] <= 1.0 and m["counts"]["seen"] == 12 and m["counts"]["clean"] == 6
    # the top-k rows carry higher mean scores than random ones, which beat the bottom-k (by construction)
    ms = {n: run["models"][n]["removed_mean_score"] for n in ("minus_top", "minus_random1", "minus_bottom")}
    assert ms["minus_top"] >= ms["minus_random1"] >= ms["minus_bottom"]
    fid = run["fidelity_vs_exact"]
    for name in ("kronecker K=512", "rapidgrad K=512"):
        assert 0.5 < fid[name]["pearson_pairs"] <= 1.0
    assert run["data"]["n_query"] == 6 and "torch" in res["environment"]
    assert res["aggregate"]["asr_seen_full"] == run["models"]["full"]["asr_seen"]
    # --merge: the same settings with another seed combine; other settings are refused
    other = json.loads(out.read_text())
    other["runs"][0]["seed"], other["settings"]["seeds"] = 7, [7]
    (tmp_path / "other.json").write_text(json.dumps(other))
    merged_path = tmp_path / "merged.json"
    assert iv.main(["--merge", str(out), str(tmp_path / "other.json"), "--out", str(merged_path)]) == 0
    merged = json.loads(merged_path.read_text())
    assert merged["settings"]["seeds"] == [42, 7] and merged["aggregate"]["n_seeds"] == 2
    assert merged["aggregate"]["asr_seen_full"] == run["models"]["full"]["asr_seen"]
    other["settings"]["rows"] = 301
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="settings differ"):
        iv.merge([str(out), str(tmp_path / "other.json")])
