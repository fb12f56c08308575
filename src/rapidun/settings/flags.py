"""Command-line flags generated from a settings dataclass.

Every generated flag defaults to ``None`` so the caller can tell the flags the user gave from the ones left out
(``rapidun unlearn --config`` layers the flags given over a YAML file); the help text shows the dataclass default.
Nested dataclasses are flattened with a prefix (``lora.r`` -> ``--lora-r``); booleans are ``--x`` (default off) or
``--no-x`` (default on); tuples are comma-separated lists.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

FlagMap = dict[str, tuple[str, ...]]  # argparse dest -> field path in the dataclass (("lora", "r") for --lora-r)


def flag_of(name: str, prefix: str = "") -> str:
    """``--lora-r`` for field ``r`` under prefix ``lora_``."""
    return "--" + (prefix + name).replace("_", "-")


def show_default(value: Any) -> str:
    """How a default reads in ``--help``: tuples as comma lists, None as 'none'."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def plain_type(hint: Any) -> tuple[Any, bool]:
    """(the type without ``| None``, whether None is allowed)."""
    args = typing.get_args(hint)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007
    return hint, False


def add_arguments(
    parser: argparse.ArgumentParser | Any,
    cls: type,
    prefix: str = "",
    *,
    skip: tuple[str, ...] = (),
    path: tuple[str, ...] = (),
) -> FlagMap:
    """One flag per field of ``cls`` (recursing into nested dataclasses); returns dest -> field path."""
    hints = typing.get_type_hints(cls)
    out: FlagMap = {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        kind, _ = plain_type(hints[f.name])
        default = field_default(f)
        if dataclasses.is_dataclass(kind):
            out.update(add_arguments(parser, kind, f"{prefix}{f.name}_", path=(*path, f.name)))  # type: ignore[arg-type]
            continue
        origin = typing.get_origin(kind)
        if kind is Any or origin is dict or kind is dict:
            continue  # free-form mappings come from YAML / --param, not from one flag
        flag = "--" + (f.metadata.get("flag") or prefix + f.name).replace("_", "-")
        dest = flag[2:].replace("-", "_")
        text = f.metadata.get("help", "").replace("%", "%%")
        options: dict[str, Any] = {"dest": dest, "default": None}
        if kind is bool:
            if default is True:
                flag = "--no-" + flag[2:]
                options.update(action="store_false", help=f"{text} (default: on; this flag turns it off)")
            else:
                options.update(action="store_true", help=f"{text} (default: off)")
        else:
            convert = comma_list if origin is tuple or kind is tuple else kind
            options.update(type=convert, help=f"{text} (default: {show_default(default)})")
            if f.metadata.get("choices"):
                options["choices"] = list(f.metadata["choices"])
        parser.add_argument(flag, **options)
        out[dest] = (*path, f.name)
    return out


def collect(args: argparse.Namespace, flags: FlagMap) -> dict[str, Any]:
    """The flags the user gave, as a nested mapping ready for :func:`rapidun.settings.from_mapping`."""
    out: dict[str, Any] = {}
    for dest, field_path in flags.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        node = out
        for part in field_path[:-1]:
            node = node.setdefault(part, {})
        node[field_path[-1]] = value
    return out
