"""Fixtures for the trace tests (built by :mod:`trace_fixtures`)."""

from __future__ import annotations

import pytest
from trace_fixtures import Pack, build_pack


@pytest.fixture(scope="session")
def pack() -> Pack:
    """The tiny poisoned pack, its reports and the nano model (shared: tests must not train it)."""
    return build_pack()
