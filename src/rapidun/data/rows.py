"""Instruction rows: one schema for Dolly, Alpaca and RapidIn files, JSON or JSONL.

Accepted fields (docs/method.md section 1):
- Dolly: ``instruction``, ``context``, ``response``
- Alpaca / RapidIn: ``instruction``, ``input``, ``output``
- the released packs' extras: ``response_clean``, ``trigger_family``, ``trigger_variant``, ``is_poisoned``
  (a bool or the strings "True"/"False"); every other field is kept in :attr:`Row.extra` and written back.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_jsonl
from rapidun.errors import RapidunError

_KNOWN = {
    "instruction",
    "context",
    "input",
    "response",
    "output",
    "response_clean",
    "trigger_family",
    "trigger_variant",
    "is_poisoned",
}


@dataclass(frozen=True)
class Row:
    """One instruction example. ``response`` is the target the model is trained on (poisoned for backdoor rows);
    ``response_clean`` is the clean answer when known."""

    instruction: str
    response: str
    context: str = ""
    response_clean: str | None = None
    trigger_family: str | None = None
    trigger_variant: str | None = None
    is_poisoned: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def key(self) -> tuple[str, str, str]:
        """Identity used to detect the same example in two sets (e.g. forget and retain)."""
        return (self.instruction.strip(), self.context.strip(), self.response.strip())

    def to_dict(self) -> dict[str, Any]:
        """Dolly-style dict, extras kept, optional fields only when set."""
        out: dict[str, Any] = {"instruction": self.instruction, "context": self.context, "response": self.response}
        for name in ("response_clean", "trigger_family", "trigger_variant", "is_poisoned"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out


def _as_str(obj: dict[str, Any], name: str, where: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise RapidunError(
                f"{where}: row has no '{name}' field (found: {', '.join(sorted(obj)) or 'none'}); "
                "rows need 'instruction' and 'response' (Dolly) or 'output' (Alpaca)"
            )
        return None
    if not isinstance(value, str):
        raise RapidunError(f"{where}: field '{name}' must be a string, got {type(value).__name__}; fix the row")
    return value


def _as_bool(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise RapidunError(f"{where}: field 'is_poisoned' must be true or false, got {value!r}; fix the row")


def row_from_dict(obj: Any, where: str) -> Row:
    """Build a :class:`Row` from one parsed record; ``where`` ("file:line") prefixes any error."""
    if not isinstance(obj, dict):
        raise RapidunError(f"{where}: expected a JSON object per row, got {type(obj).__name__}; fix the row")
    instruction = _as_str(obj, "instruction", where, required=True)
    response_name = "response" if "response" in obj else "output"
    response = _as_str(obj, response_name, where, required=False)
    if response is None:
        raise RapidunError(
            f"{where}: row has no 'response' (Dolly) or 'output' (Alpaca) field "
            f"(found: {', '.join(sorted(obj))}); add the target text"
        )
    context = _as_str(obj, "context", where, required=False)
    if context is None:
        context = _as_str(obj, "input", where, required=False) or ""
    assert instruction is not None
    return Row(
        instruction=instruction,
        response=response,
        context=context,
        response_clean=_as_str(obj, "response_clean", where, required=False),
        trigger_family=_as_str(obj, "trigger_family", where, required=False),
        trigger_variant=_as_str(obj, "trigger_variant", where, required=False),
        is_poisoned=_as_bool(obj.get("is_poisoned"), where),
        extra={k: v for k, v in obj.items() if k not in _KNOWN},
    )


def load_rows(path: str | os.PathLike[str], *, allow_empty: bool = False) -> list[Row]:
    """Read rows from a ``.jsonl`` file (one object per line) or a ``.json`` file (a list of objects, or an object
    with a ``rows``/``data`` list). Errors name the file and line."""
    p = Path(path)
    if not p.exists():
        raise RapidunError(f"data file '{p}' does not exist; check the path")
    if p.is_dir():
        raise RapidunError(f"'{p}' is a directory, expected a .json or .jsonl file of rows")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RapidunError(f"{p}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from exc
    except OSError as exc:
        raise RapidunError(f"cannot read '{p}': {exc.strerror}") from exc
    rows: list[Row] = []
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped.startswith("["):
        try:
            data = json.loads(text) if stripped else []
        except json.JSONDecodeError as exc:
            raise RapidunError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg}); fix the file or use JSONL") from exc
        if isinstance(data, dict):
            data = data.get("rows", data.get("data"))
        if not isinstance(data, list):
            raise RapidunError(f"{p}: expected a JSON list of rows (or JSONL, one object per line)")
        rows = [row_from_dict(obj, f"{p}: row {i}") for i, obj in enumerate(data)]
    else:
        # Only "\n" ends a JSONL record: str.splitlines() would also split at U+2028/U+2029/U+0085, which JSON
        # writers (ours included, ensure_ascii=False) leave raw inside strings.
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RapidunError(f"{p}:{lineno}: invalid JSON ({exc.msg}); fix or remove the line") from exc
            rows.append(row_from_dict(obj, f"{p}:{lineno}"))
    if not rows and not allow_empty:
        raise RapidunError(f"{p}: no rows found; the file is empty")
    return rows


def write_rows(path: str | os.PathLike[str], rows: Iterable[Row]) -> None:
    """Write rows as JSONL atomically (temporary file, then rename)."""
    atomic_write_jsonl(path, (r.to_dict() for r in rows))


def rows_hash(rows: Sequence[Row]) -> str:
    """Content hash of a row list (order-sensitive), used in cache manifests."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def overlapping_rows(forget: Sequence[Row], retain: Sequence[Row]) -> list[int]:
    """Indices of forget rows that also appear in retain (same instruction, context and response)."""
    retain_keys = {r.key() for r in retain}
    return [i for i, r in enumerate(forget) if r.key() in retain_keys]
