"""Writing artifacts so that a half-written output is never trusted.

Every file is written to a temporary name in the same directory and renamed into place (atomic on POSIX).
A stage directory counts as finished only when its manifest exists; the manifest is written last.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rapidun.errors import RapidunError

MANIFEST = "manifest.json"
_UMASK = os.umask(0)
os.umask(_UMASK)


def ensure_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and parents); raise a one-line error if it cannot be written."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RapidunError(f"cannot create output directory '{p}': {exc.strerror}; choose a writable --out") from exc
    if not os.access(p, os.W_OK):
        raise RapidunError(f"output directory '{p}' is not writable; choose a writable --out")
    return p


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename."""
    p = Path(path)
    ensure_dir(p.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; artifacts get the usual permissions
        os.replace(tmp, p)
    except OSError as exc:
        raise RapidunError(f"cannot write '{p}': {exc.strerror}; check free disk space and permissions") from exc


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def atomic_write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    lines = [json.dumps(r, ensure_ascii=False, default=_json_default) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_manifest(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Mark ``directory`` as finished. Call this last, after every other file of the stage is in place."""
    atomic_write_json(Path(directory) / MANIFEST, manifest)


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a finished stage directory, or None if the stage is missing or unfinished."""
    p = Path(directory) / MANIFEST
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def clear_manifest(directory: str | os.PathLike[str]) -> None:
    """Mark a stage as unfinished before rewriting it, so a crash mid-rewrite is not trusted."""
    (Path(directory) / MANIFEST).unlink(missing_ok=True)  # missing_ok: several processes may clear it at once


def with_unset_fields(saved: Any, settings: Any) -> Any:
    """``saved`` with the keys it lacks and ``settings`` holds as None added (recursively): a setting added to the
    library later, unset, does not change what an older directory was made with, so it can still be reused."""
    if not isinstance(saved, dict) or not isinstance(settings, dict):
        return saved
    out = {k: with_unset_fields(v, settings.get(k)) for k, v in saved.items()}
    return out | {k: None for k, v in settings.items() if k not in saved and v is None}
