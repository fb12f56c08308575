"""`evaluate` and `unlearn --eval-data` record the backdoor check: a barely trained nano model has no
trigger-conditioned backdoor, and both say so (a warning line and a ``backdoor_check`` field)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rapidun.cli.main import main


def test_evaluate_and_unlearn_record_the_check(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pack, model = tmp_path / "pack", tmp_path / "model"
    assert main(["-q", "poison", "--data", "synthetic", "--n-rows", "120", "--out", str(pack)]) == 0
    train = ["train", "--model", "nano", "--data", str(pack), "--max-steps", "2", "--max-length", "64"]
    assert main(["-q", *train, "--out", str(model)]) == 0
    with caplog.at_level(logging.WARNING):
        evaluate = ["evaluate", "--model", str(model), "--data", str(pack), "--max-eval", "8"]
        assert main([*evaluate, "--max-new-tokens", "4", "--out", str(tmp_path / "ev")]) == 0
    check = json.loads((tmp_path / "ev" / "metrics.json").read_text())["backdoor_check"]
    assert check["trigger_conditioned"] is False and "Wilson" in check["rule"]
    assert any("no trigger-conditioned backdoor to remove" in r.getMessage() for r in caplog.records)
    caplog.clear()
    unlearn = ["unlearn", "--model", str(model), "--forget", str(pack / "forget.jsonl"), "--retain"]
    unlearn += [str(pack / "retain.jsonl"), "--method", "graddiff", "--epochs", "0.5", "--max-length", "64"]
    with caplog.at_level(logging.WARNING):
        assert main([*unlearn, "--eval-data", str(pack), "--eval-max", "6", "--out", str(tmp_path / "u")]) == 0
    run = json.loads((tmp_path / "u" / "run.json").read_text())
    assert run["backdoor_check"]["trigger_conditioned"] is False
    assert any("before unlearning" in r.getMessage() for r in caplog.records)
    # The unlearned model, evaluated with its adapter: no backdoor left is the goal, said as such (no warning).
    caplog.clear()
    with caplog.at_level(logging.INFO):
        evaluate = ["evaluate", "--model", str(model), "--adapter", str(tmp_path / "u"), "--data", str(pack)]
        assert main([*evaluate, "--max-eval", "8", "--max-new-tokens", "4", "--out", str(tmp_path / "ev_u")]) == 0
    check = json.loads((tmp_path / "ev_u" / "metrics.json").read_text())["backdoor_check"]
    assert check["model_is_unlearned"] is True and check["trigger_conditioned"] is False
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert any("no trigger-conditioned backdoor left after unlearning" in m for _, m in messages)
    assert not any("to remove" in m for level, m in messages if level >= logging.WARNING)
