"""The backdoor sanity check on hand-made counts: near-zero seen ASR, seen ASR within noise of the false-trigger
rate, a real trigger-conditioned backdoor. Interval bounds quoted in comments were worked out by hand with the
Wilson formula (z = 1.96), not with the code under test."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rapidun.evaluation.trigger_check import NEAR_ZERO, backdoor_check, check_metrics, check_unlearn_run


@pytest.mark.parametrize(
    ("seen", "n_seen", "clean", "n_clean", "conditioned", "why"),
    [
        (97, 100, 99, 100, False, "within noise"),  # the Dolly model: target on every prompt
        (2, 300, 0, 300, False, "near zero"),  # upper bound ~0.024
        (3, 100, 0, 100, False, "near zero"),  # [0.010, 0.085]: upper bound below 0.10
        (6, 100, 0, 100, False, "within noise"),  # [0.028, 0.125] vs [0, 0.037]: overlap
        (20, 100, 12, 100, False, "within noise"),  # [0.133, 0.289] vs [0.070, 0.198]: overlap
        (59, 100, 12, 100, True, "outside noise"),  # the README recipe's weak backdoor is still conditioned
        (10, 100, 0, 300, True, "outside noise"),  # [0.055, 0.174] vs [0, 0.0126]
        (80, 100, 5, 100, True, "outside noise"),
    ],
)
def test_rule(seen: int, n_seen: int, clean: int, n_clean: int, conditioned: bool, why: str) -> None:
    check = backdoor_check(seen, n_seen, clean, n_clean)
    assert check is not None
    assert check["trigger_conditioned"] is conditioned
    assert why in check["reason"] and "Wilson" in check["rule"]
    lo, hi = check["asr_seen_ci95"]
    assert lo <= seen / n_seen <= hi


def test_close_reason_says_clean_prompts_fire_only_when_they_do() -> None:
    # 97/100 vs 99/100: clean lower bound ~0.945 >= 0.10, the target comes on clean prompts too
    assert "on clean prompts too" in backdoor_check(97, 100, 99, 100)["reason"]
    # 0/5 vs 0/5 (too few prompts): within noise, but nothing fires on clean prompts: do not claim it does
    few = backdoor_check(0, 5, 0, 5)["reason"]
    assert "within noise" in few and "clean prompts too" not in few


def test_near_zero_bound_is_the_documented_one() -> None:
    assert NEAR_ZERO == 0.10
    # 4/100: upper bound 0.098 (< 0.10), 5/100: 0.112 (>= 0.10); with no clean successes in 1000 prompts
    assert "near zero" in backdoor_check(4, 100, 0, 1000)["reason"]
    assert backdoor_check(5, 100, 0, 1000)["trigger_conditioned"] is True


def test_empty_split_is_not_judged() -> None:
    assert backdoor_check(0, 0, 1, 10) is None and backdoor_check(3, 10, 0, 0) is None


def test_from_metrics_json_fields() -> None:
    with_successes = {"counts": {"seen": 100, "clean": 100}, "successes": {"seen": 97, "clean": 99}}
    assert check_metrics(with_successes)["trigger_conditioned"] is False
    rates_only = {"counts": {"seen": 100, "clean": 100}, "asr_seen": 0.8, "false_trigger_rate": 0.05}
    assert check_metrics(rates_only)["trigger_conditioned"] is True


def test_unlearn_run_gets_the_field_and_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"method": "rapidun"}))
    step0 = {"step": 0, "metrics": {"counts": {"seen": 50, "clean": 50}, "successes": {"seen": 49, "clean": 50}}}
    with caplog.at_level(logging.WARNING):
        check = check_unlearn_run(tmp_path, [step0, {"step": 5, "metrics": {}}])
    assert check is not None and check["trigger_conditioned"] is False
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["method"] == "rapidun" and run["backdoor_check"] == check
    assert any("no trigger-conditioned backdoor to remove" in r.message for r in caplog.records)
    assert check_unlearn_run(tmp_path / "none", []) is None
