"""benchmarks/influence.py and its parts (benchmarks/influence_bench/): helpers checked on known answers (fast), the
whole script at its smallest setting (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def parts():
    sys.path.insert(0, str(BENCH))
    try:
        from influence_bench import backdoor_auc, fidelity, rapidin

        yield {"auc": backdoor_auc, "fidelity": fidelity, "rapidin": rapidin}
    finally:
        sys.path.remove(str(BENCH))


def test_prime_factors(parts):
    assert parts["rapidin"]._prime_factors(360) == [2, 2, 2, 3, 3, 5]
    assert parts["rapidin"]._prime_factors(97) == [97]


def test_auc_on_known_orderings(parts):
    auc = parts["auc"]._auc
    positive = np.array([True, True, False, False])
    assert auc(np.array([4.0, 3.0, 2.0, 1.0]), positive) == 1.0
    assert auc(np.array([1.0, 2.0, 3.0, 4.0]), positive) == 0.0
    assert auc(np.array([1.0, 1.0, 1.0, 1.0]), positive) == 0.5  # ties count half


def test_fidelity_of_identical_and_reversed_scores(parts):
    s = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    s = s + s.T
    same = parts["fidelity"].fidelity(s, s)
    assert same["pearson"] == pytest.approx(1.0) and same["spearman"] == pytest.approx(1.0) and same["top10"] == 1.0
    rev = parts["fidelity"].fidelity(-s, s)
    assert rev["pearson"] == pytest.approx(-1.0) and rev["spearman"] == pytest.approx(-1.0)


@pytest.mark.slow
def test_quick_run_writes_every_section(tmp_path):
    out = tmp_path / "influence.json"
    cmd = [sys.executable, str(BENCH / "influence.py"), "--quick", "--no-kronfluence", "--reps", "1"]
    subprocess.run([*cmd, "--parts", "speed,fidelity", "--out", str(out)], check=True, capture_output=True)
    res = json.loads(out.read_text())
    assert res["kronfluence"] == "skipped (--no-kronfluence)"
    assert {"default", "floor", "rapidin", "naive-loop", "default+cache"} <= set(res["variants"])
    assert set(res["fidelity"]) == {"kronecker K=65536", "kronecker K=4096", "rapidgrad K=65536", "rapidgrad K=4096"}
    assert res["variants"]["default"]["cache_bytes_per_sample"] == 2 * 65536
    assert "scoring" not in res and "backdoor_auc" not in res  # only the parts asked for
    assert 0.0 < res["ratios"]["default/floor"] < 10.0
