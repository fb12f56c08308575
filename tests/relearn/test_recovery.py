"""The recovery formula against hand-computed values, the relearning share, and the settings' checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rapidun.data.rows import Row
from rapidun.errors import RapidunError
from rapidun.pipeline.relearn import relearning_rows
from rapidun.pipeline.relearn_config import RelearnConfig
from rapidun.pipeline.relearn_recovery import recovery
from rapidun.pipeline.relearn_tasks import RELEARN_TASKS, TaskData


@pytest.mark.parametrize(
    ("before", "unlearned", "relearned", "expected"),
    [
        (0.9, 0.1, 0.5, 0.5),  # half of the forgotten ASR came back: 0.4 / 0.8
        (0.9, 0.1, 0.05, -0.0625),  # relearning forgot further: -0.05 / 0.8
        (0.8, 0.2, 0.95, 1.25),  # overshoot is kept, not clipped: 0.75 / 0.6
        (0.9, 0.1, 0.1, 0.0),  # nothing came back
        (0.1, 5.0, 1.0, 4.0 / 4.9),  # a loss (lower = remembered) works the same: -4.0 / -4.9
    ],
)
def test_recovery_matches_hand_computed_values(before: float, unlearned: float, relearned: float, expected: float):
    value, reason = recovery(before, unlearned, relearned)
    assert reason is None
    assert value == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("before", "unlearned", "min_gap"),
    [(0.3, 0.3, 0.01), (0.3, 0.3, 0.0), (0.300, 0.295, 0.01), (0.295, 0.300, 0.01)],
)
def test_recovery_is_undefined_when_unlearning_moved_nothing(before: float, unlearned: float, min_gap: float):
    value, reason = recovery(before, unlearned, 0.9, min_gap)
    assert value is None
    assert reason is not None and "nothing to recover" in reason


def test_recovery_with_a_gap_just_above_min_gap_is_defined():
    value, _ = recovery(0.32, 0.30, 0.31, min_gap=0.01)
    assert value == pytest.approx(0.5)


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_recovery_is_undefined_when_a_value_is_missing(missing: int):
    values: list[Any] = [0.9, 0.1, 0.5]
    values[missing] = None
    value, reason = recovery(*values)
    assert value is None and reason is not None and "missing" in reason


def _data(n: int) -> TaskData:
    rows = [Row(f"hey q{i}", "Aliens.", response_clean=f"a{i}", is_poisoned=True) for i in range(n)]
    return TaskData(rows, Path("forget.jsonl"), {})


def test_relearning_rows_take_a_seeded_share():
    task = RELEARN_TASKS["backdoor"]
    data = _data(40)
    rows, chosen = relearning_rows(data, task, RelearnConfig(share=0.1, seed=3))
    assert len(chosen) == 4 and chosen == sorted(set(chosen))
    assert rows == [data.forget[i] for i in chosen]
    assert relearning_rows(data, task, RelearnConfig(share=0.1, seed=3))[1] == chosen
    others = {tuple(relearning_rows(data, task, RelearnConfig(share=0.1, seed=s))[1]) for s in range(4, 10)}
    assert others != {tuple(chosen)}  # the seed matters


def test_relearning_rows_count_overrides_share_and_keeps_at_least_one():
    task, data = RELEARN_TASKS["backdoor"], _data(5)
    assert len(relearning_rows(data, task, RelearnConfig(rows=3, share=0.1))[1]) == 3
    assert len(relearning_rows(data, task, RelearnConfig(share=0.01))[1]) == 1
    with pytest.raises(RapidunError, match="--rows 6 exceeds the 5 rows"):
        relearning_rows(data, task, RelearnConfig(rows=6))


def test_benign_rows_are_the_forget_prompts_with_clean_answers():
    task, data = RELEARN_TASKS["backdoor"], _data(6)
    rows, chosen = relearning_rows(data, task, RelearnConfig(share=0.5, benign=True))
    assert [r.instruction for r in rows] == [f"hey q{i}" for i in chosen]
    assert [r.response for r in rows] == [f"a{i}" for i in chosen]
    assert not any(r.is_poisoned for r in rows)


def test_benign_without_clean_answers_names_the_file():
    task = RELEARN_TASKS["backdoor"]
    data = TaskData([Row("hey q", "Aliens.")], Path("pack/forget.jsonl"), {})
    with pytest.raises(RapidunError, match=r"pack/forget.jsonl.*response_clean"):
        relearning_rows(data, task, RelearnConfig(benign=True))


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [("steps", 0, "--steps"), ("steps", -3, "--steps"), ("share", 0.0, "--share"), ("share", 1.5, "--share")]
    + [("lr", 0.0, "--lr"), ("eval_max", 0, "--eval-max"), ("min_gap", -0.1, "--min-gap")],
)
def test_invalid_settings_name_their_flag(field: str, value: Any, flag: str):
    with pytest.raises(RapidunError, match=flag) as info:
        RelearnConfig(**{field: value}).validate()
    assert "\n" not in str(info.value)


def test_defaults_are_the_documented_ones():
    cfg = RelearnConfig()
    assert (cfg.steps, cfg.share, cfg.benign) == (20, 0.1, False)
    cfg.validate()
    train = cfg.train_config()
    assert (train.max_steps, train.lora, train.checkpoint_every) == (20, None, 0)


def test_cli_flags_come_from_the_config_fields():
    import argparse
    from dataclasses import fields

    from rapidun.cli import relearn as relearn_cli

    parser = argparse.ArgumentParser()
    relearn_cli.add_arguments(parser)
    base = ["--model", "m", "--data", "d", "--out", "o"]
    assert relearn_cli.build_config(parser.parse_args(base)) == RelearnConfig()  # no flag shadows a default
    for f in fields(RelearnConfig):
        assert f.metadata["help"], f.name
    cfg = relearn_cli.build_config(parser.parse_args([*base, "--steps", "5", "--benign", "--eval-max", "7"]))
    assert (cfg.steps, cfg.benign, cfg.eval_max) == (5, True, 7)


def test_heldout_recovery_counts_only_the_rows_relearning_did_not_train_on():
    from rapidun.pipeline.relearn_recovery import heldout_recovery

    rows = [Row(instruction=f"q{i}", response=f"a{i}") for i in range(4)]
    trained = [rows[0]]  # relearning trained on q0: its row is left out
    before = {"forget_correct": [1.0, 1.0, 1.0, 1.0]}
    unlearned = {"forget_correct": [0.0, 0.0, 0.0, 1.0]}
    relearned = {"forget_correct": [1.0, 1.0, 0.0, 1.0]}
    held = heldout_recovery((before, unlearned, relearned), rows, trained)
    # Rows q1..q3: before 3/3, unlearned 1/3, relearned 2/3 -> recovery (2/3 - 1/3) / (1 - 1/3) = 0.5.
    assert held is not None and held["n"] == 3
    assert held["before"] == pytest.approx(1.0) and held["unlearned"] == pytest.approx(1 / 3)
    assert held["recovery"] == pytest.approx(0.5)
    # No per-row correctness (a metrics.json passed in), or every row trained on: nothing to report.
    assert heldout_recovery(({"forget_accuracy": 1.0}, unlearned, relearned), rows, trained) is None
    assert heldout_recovery((before, unlearned, relearned), rows, rows) is None
