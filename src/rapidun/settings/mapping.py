"""Building a settings dataclass from a mapping (a YAML file, ``--set`` / ``--param`` overrides), checked first.

Unknown keys fail with one line naming the key and the nearest valid one; a value of the wrong type fails with one
line naming the key. Nested dataclasses are built from nested mappings on top of their current value, and lists
become tuples.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from typing import Any

from rapidun.errors import RapidunError
from rapidun.settings.flags import plain_type

_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def unknown_key_error(key: str, known: typing.Iterable[str], where: str, section: str = "") -> RapidunError:
    """``study config: unknown key 'seedz' in unlearn; did you mean 'seed'?``"""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(names)}"
    place = f" in {section}" if section else ""
    return RapidunError(f"{where}: unknown key '{key}'{place}; {hint}")


def _type_name(hint: Any) -> str:
    """'an int', 'a float', 'a tuple[str, ...]'."""
    name = getattr(hint, "__name__", None) if typing.get_origin(hint) is None else None
    name = name or str(hint).replace("typing.", "")
    return ("an " if name[0] in "aeiou" else "a ") + name


def check_value(value: Any, hint: Any, name: str, where: str) -> Any:
    """``value`` converted to ``hint`` (int -> float, list -> tuple), or a RapidunError naming the key."""
    kind, optional = plain_type(hint)
    if value is None:
        if optional or kind is Any:
            return None
        raise RapidunError(f"{where}: {name} cannot be empty (null); give {_type_name(kind)}")
    origin = typing.get_origin(kind)
    if kind is Any:
        return tuple(value) if isinstance(value, list) else value
    if origin is typing.Union:
        return value  # unions of several non-None types are left to the dataclass's own checks
    bad = RapidunError(f"{where}: {name} must be {_type_name(kind)}, got {value!r}")
    if kind is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if kind is float:
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads `6e-5` (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise bad
        return value
    if origin is tuple or kind is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        items = typing.get_args(kind)
        item = items[0] if items and (len(items) == 1 or items[-1] is Ellipsis) else Any
        if item is Any:
            return tuple(value)
        return tuple(check_value(v, item, f"{name}[{i}]", where) for i, v in enumerate(value))
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise bad
        return value
    return value


def from_mapping(cls: type, data: Any, where: str, *, base: Any = None, section: str = "") -> Any:
    """``cls`` built from ``data`` on top of ``base`` (default: the class defaults).

    ``where`` names the source in messages (``study config``, ``--config run.yaml``); ``section`` the dotted path of
    this mapping inside it (``unlearn``, ``datasets[0]``). A value that already is a ``cls`` is returned as is."""
    if isinstance(data, cls):
        return data
    place = f"{where}: '{section}'" if section else where
    if not isinstance(data, dict):
        raise RapidunError(f"{place} must be a mapping of setting names to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            raise unknown_key_error(str(key), fields, where, section)
    values: dict[str, Any] = {}
    for key, value in data.items():
        inner = f"{section}.{key}" if section else str(key)
        kind, _ = plain_type(hints[key])
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            current = getattr(base, key, None) if base is not None else None
            if current is None:
                f = fields[key]
                if f.default_factory is not dataclasses.MISSING:
                    current = f.default_factory()
                elif dataclasses.is_dataclass(f.default):
                    current = f.default
            values[key] = from_mapping(kind, value, where, base=current, section=inner)  # type: ignore[arg-type]
            continue
        if dataclasses.is_dataclass(kind) and value is not None:
            if not isinstance(value, kind):  # type: ignore[arg-type]
                raise RapidunError(f"{where}: '{inner}' must be a mapping of setting names to values, got {value!r}")
            values[key] = value
            continue
        values[key] = check_value(value, hints[key], inner, where)
        choices = fields[key].metadata.get("choices")
        if choices and values[key] is not None and values[key] not in choices:
            raise RapidunError(f"{where}: {inner} must be one of {', '.join(map(str, choices))}, got {value!r}")
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except (TypeError, ValueError) as exc:
        raise RapidunError(f"{place}: {exc}") from exc


def validate_tree(obj: Any) -> None:
    """Call ``validate()`` on ``obj`` and on every nested settings dataclass that has one."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    check = getattr(obj, "validate", None)
    if callable(check):
        check()
    for f in dataclasses.fields(obj):
        validate_tree(getattr(obj, f.name))
