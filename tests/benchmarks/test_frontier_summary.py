"""benchmarks/frontier_summary.py: the hardest opponent and the count of benches, on hand-written verdict files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench_scripts import BENCHMARKS, load_script

SCRIPT = BENCHMARKS / "frontier_summary.py"


@pytest.fixture(scope="module")
def fs():
    return load_script("frontier_summary")


def _cmp(against: str, seen: tuple[float, float, float], ood: tuple[float, float, float]) -> dict:
    def split(d: tuple[float, float, float]) -> dict:
        return {"diff": d[0], "ci95": [d[1], d[2]], "seeds": [1, 2]}

    beats = seen[2] < 0 and ood[2] < 0
    return {"against": against, "beats_outside_noise": beats, "seen": split(seen), "ood": split(ood)}


def _verdict(path: Path, comparisons: list[dict]) -> Path:
    verdict = {
        "budget": "1.1",
        "best_influence_method": "rapidun_contrastive",
        "comparisons": comparisons,
        "target_met": all(c["beats_outside_noise"] for c in comparisons),
    }
    path.write_text(json.dumps({"datasets": {"synthetic": {"verdict": verdict}}}))
    return path


def test_hardest_opponent_is_the_largest_difference_on_either_split(fs, tmp_path: Path) -> None:
    f = _verdict(
        tmp_path / "v.json",
        [
            _cmp("uniform", (-0.02, -0.05, 0.01), (0.04, 0.00, 0.08)),  # worse split: OOD +4
            _cmp("loreun", (0.03, 0.01, 0.05), (-0.10, -0.2, -0.01)),  # worse split: seen +3
            _cmp("ga", (-0.5, -0.6, -0.4), (-0.3, -0.4, -0.2)),
        ],
    )
    line = fs.bench_line("tiny", f)
    assert line["hardest_opponent"] == "uniform"
    assert line["ood_diff"] == 0.04 and line["seen_ci95"] == [-0.05, 0.01]
    assert line["beaten_outside_noise"] == ["ga"]
    assert line["not_beaten"] == ["uniform", "loreun"]
    assert line["target_met"] is False


def test_target_needs_the_stated_number_of_benches(tmp_path: Path) -> None:
    met = _verdict(tmp_path / "met.json", [_cmp("uniform", (-0.1, -0.2, -0.01), (-0.1, -0.15, -0.05))])
    not_met = _verdict(tmp_path / "not.json", [_cmp("uniform", (-0.1, -0.2, 0.01), (-0.1, -0.15, -0.05))])
    out = tmp_path / "summary.json"
    args = [sys.executable, str(SCRIPT), f"a={met}", f"b={not_met}", f"c={met}", "--results", str(out)]
    subprocess.run([*args, "--need", "2"], check=True, capture_output=True)
    summary = json.loads(out.read_text())
    assert (summary["held_on"], summary["target_met"]) == (2, True)
    subprocess.run([*args, "--need", "3"], check=True, capture_output=True)
    assert json.loads(out.read_text())["target_met"] is False


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), f"tiny={tmp_path / 'absent.json'}"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "absent.json" in proc.stderr and "Traceback" not in proc.stderr
