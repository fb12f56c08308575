"""Fixtures of the reporting tests (helpers live in report_fixtures.py, imported by name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import write_run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run_dir(tmp_path / "run")
