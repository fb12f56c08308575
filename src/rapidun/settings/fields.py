"""Declaring a setting: a dataclass field whose metadata carries its help text (and optional flag name, choices).

Defaults shared by several stages live here once, because they must agree across stages: a model trained on
``MAX_LENGTH``-token examples is scored for influence, unlearned and evaluated on examples cut the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

MAX_LENGTH = 256  # tokens per example (prompt + response) in training, influence, unlearning and evaluation
SEED = 42  # the default seed of data generation, training and unlearning
CHECKPOINT_EVERY = 50  # optimiser steps between resumable checkpoints of training and unlearning
PROMPT_STYLES: tuple[str, ...] = ("alpaca", "chat", "plain")  # data/prompt.py formats each one


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    flag: str | None = None,
    choices: Sequence[Any] | None = None,
    factory: Callable[[], Any] | None = None,
    cli: bool = True,
) -> Any:
    """A dataclass field with its default and help text.

    ``flag``: the command-line flag (without dashes) when it is not the field name with ``_`` -> ``-`` under the
    nested prefix; ``choices``: the allowed values (checked by argparse and :func:`from_mapping`); ``factory``: a
    default factory (for mutable or dataclass defaults); ``cli=False``: no flag is generated for this field."""
    metadata = {"help": help, "flag": flag, "choices": tuple(choices) if choices is not None else None, "cli": cli}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
