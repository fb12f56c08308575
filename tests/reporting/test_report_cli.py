"""`rapidun report`: re-renders run directories; one-line errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapidun.cli.main import main


def test_cli_renders_into_the_run_dir(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert str(run_dir / "report.html") in out and str(run_dir / "report.md") in out
    assert (run_dir / "report.html").stat().st_size > 10_000


def test_cli_dir_without_results_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "results.json" in err and "Traceback" not in err


def test_cli_several_dirs_need_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "--out" in capsys.readouterr().err
