"""`rapidun study` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from rapidun.errors import RapidunError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise RapidunError("'rapidun study' is not implemented yet")
