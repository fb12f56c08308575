"""Quiet by default: progress bars only when stderr is a terminal (``--progress`` forces them, ``-q`` and
``--no-progress`` hide them), no matplotlib font lines under ``-v``, no third-party FutureWarnings."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import pytest

from rapidun.cli.main import COMMANDS, main

# The smallest argument list each command's parser accepts (run() itself is replaced below, so nothing runs).
_MINIMAL_ARGS = {
    "train": ["--model", "m", "--data", "d", "--out", "o"],
    "evaluate": ["--model", "m", "--data", "d", "--out", "o"],
    "influence": ["--model", "m", "--out", "o"],
    "unlearn": [],
    "study": ["study.yaml"],
    "demo": [],
}


@pytest.mark.parametrize("name", sorted(_MINIMAL_ARGS))
def test_quiet_turns_off_every_long_running_commands_bars(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"rapidun.cli.{COMMANDS[name]}")
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(module, "run", lambda args: seen.append(args) or 0)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")  # main() sets it under -q; restored after the test
    assert main([name, "--progress", *_MINIMAL_ARGS[name]]) == 0
    assert main([name, "-q", *_MINIMAL_ARGS[name]]) == 0
    assert main([name, "-q", "--progress", *_MINIMAL_ARGS[name]]) == 0  # -q wins: warnings and errors only
    assert main([name, "--no-progress", *_MINIMAL_ARGS[name]]) == 0
    assert [args.no_progress for args in seen] == [False, True, True, True]


@pytest.mark.parametrize("name", sorted(_MINIMAL_ARGS))
def test_bars_follow_the_terminal_by_default(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"rapidun.cli.{COMMANDS[name]}")
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(module, "run", lambda args: seen.append(args) or 0)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    for tty in (True, False):
        monkeypatch.setattr(sys.stderr, "isatty", lambda tty=tty: tty, raising=False)
        assert main([name, *_MINIMAL_ARGS[name]]) == 0
    assert [args.no_progress for args in seen] == [False, True]


def test_quiet_train_prints_no_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"instruction": f"Q{i}?", "response": f"A{i} red."}) + "\n" for i in range(8)))
    base = ["train", "--model", "nano", "--data", str(rows), "--max-steps", "3", "--batch-size", "4"]
    assert main([*base, "--progress", "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().err
    assert "train:" in loud  # the bar is there without -q, so the check below can fail
    assert main(["-q", *base, "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr().err
    assert "train:" not in quiet and "it/s" not in quiet, quiet
