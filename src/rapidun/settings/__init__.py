"""Typed settings: one dataclass per stage, each field holding its default and help text once.

``setting(...)`` declares a field; ``add_arguments`` turns a dataclass into command-line flags whose help shows the
default; ``collect`` reads back the flags the user gave; ``from_mapping`` builds a dataclass from a YAML or
``--set`` mapping, rejecting unknown keys (with the nearest valid one) and values of the wrong type before any work
starts. This package sits at the bottom of the import flow: it imports nothing of rapidun but ``errors``.
"""

from rapidun.settings.fields import CHECKPOINT_EVERY, MAX_LENGTH, PROMPT_STYLES, SEED, setting
from rapidun.settings.flags import FlagMap, add_arguments, collect, flag_of
from rapidun.settings.mapping import from_mapping, unknown_key_error, validate_tree

__all__ = [
    "CHECKPOINT_EVERY",
    "MAX_LENGTH",
    "PROMPT_STYLES",
    "SEED",
    "FlagMap",
    "add_arguments",
    "collect",
    "flag_of",
    "from_mapping",
    "setting",
    "unknown_key_error",
    "validate_tree",
]
