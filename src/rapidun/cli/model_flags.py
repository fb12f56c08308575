"""Flags every model-loading command shares: ``--arch`` (the family a size name builds) and the
:class:`rapidun.modeling.precision.ModelSettings` flags (``--model-dtype``, ``--load-in-4bit``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_model_flags(parser: argparse.ArgumentParser, *, arch: bool = True) -> None:
    from rapidun.modeling.factory import ARCHITECTURES
    from rapidun.modeling.precision import ModelSettings
    from rapidun.settings import add_arguments as add_settings

    if arch:
        parser.add_argument("--arch", default="llama", choices=ARCHITECTURES, help="architecture for size names")
    parser.set_defaults(model_flags=add_settings(parser, ModelSettings))


def model_settings(args: argparse.Namespace, command: str) -> Any:
    """The :class:`ModelSettings` of the flags given (defaults for the others)."""
    from rapidun.modeling.precision import ModelSettings
    from rapidun.settings import collect, from_mapping

    return from_mapping(ModelSettings, collect(args, getattr(args, "model_flags", {})), f"rapidun {command}")
