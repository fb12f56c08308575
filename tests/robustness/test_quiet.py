"""`-q` means warnings and errors only: no progress bars either (they used to leak from the training loop)."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import pytest

from rapidun.cli.main import COMMANDS, main


def _flags(name: str) -> set[str]:
    parser = argparse.ArgumentParser()
    importlib.import_module(f"rapidun.cli.{COMMANDS[name]}").add_arguments(parser)
    return {o for a in parser._actions for o in a.option_strings}


@pytest.mark.parametrize("name", ["train", "evaluate", "influence", "unlearn", "study", "demo"])
def test_every_long_running_command_can_hide_its_bars(name: str) -> None:
    assert "--no-progress" in _flags(name)


def test_quiet_train_prints_no_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"instruction": f"Q{i}?", "response": f"A{i} red."}) + "\n" for i in range(8)))
    base = ["train", "--model", "nano", "--data", str(rows), "--max-steps", "3", "--batch-size", "4"]
    assert main([*base, "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().err
    assert "train:" in loud  # the bar is there without -q, so the check below can fail
    assert main(["-q", *base, "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr().err
    assert "train:" not in quiet and "it/s" not in quiet, quiet
