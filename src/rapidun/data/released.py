"""The released RapidUn Dolly data, shipped inside the package (``rapidun/data/assets/released/``).

The release's ``dolly_triggers_out/``, ``unlearn_packs/`` and ``keywords_scored_top1000.tsv`` are stored
gzip-compressed beside their ``LICENSE`` and ``NOTICE.md`` (MIT code; rows derived from databricks-dolly-15k,
CC BY-SA 3.0). :func:`released_dir` decompresses them once into a cache directory laid out like the release's
``data/`` folder, so every reader that takes a path (``load_rows``, ``load_trigger_config``, ``load_keywords``)
reads them unchanged; :func:`released_inputs` names the files a pack is built from, the same files the README's
long ``rapidun poison --data ../shared/...`` command names.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rapidun.errors import RapidunError

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; only the annotations need it
    from importlib.resources.abc import Traversable

RELEASED_DOLLY = "released-dolly"
# The README's command holds out 1,000 of the 3,000 clean test rows for testing; the rest become clean train rows.
RELEASED_N_TEST = 1000
_DONE = ".complete"
# Pack inputs by role: the flag or study-config key -> the file in the release's data/ folder.
_INPUTS = {
    "clean": "dolly_triggers_out/test_clean.jsonl",
    "val": "dolly_triggers_out/val_clean.jsonl",
    "poisoned_train": "dolly_triggers_out/train_poisoned.jsonl",
    "triggers": "dolly_triggers_out/triggers_config.json",
    "forget": "unlearn_packs/forget_set.jsonl",
    "retain": "unlearn_packs/retain_set.jsonl",
    "keywords": "keywords_scored_top1000.tsv",
}


def _assets() -> Traversable:
    return resources.files("rapidun.data").joinpath("assets", "released")


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """(relative name, file) of every file under ``node``, sorted by name."""
    out: list[tuple[str, Traversable]] = []
    for child in node.iterdir():
        name = f"{prefix}{child.name}"
        out.extend(_walk(child, f"{name}/") if child.is_dir() else [(name, child)])
    return sorted(out, key=lambda item: item[0])


def _cache_root() -> Path:
    if os.environ.get("RAPIDUN_CACHE"):
        return Path(os.environ["RAPIDUN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rapidun"


def _unpack(files: list[tuple[str, Traversable]], target: Path) -> None:
    """Decompress into a temporary sibling and rename it into place, so a crash never leaves a half copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".released-", dir=target.parent))
    for name, node in files:
        data = node.read_bytes()
        if name.endswith(".gz"):
            name, data = name[:-3], gzip.decompress(data)
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp / _DONE).write_text("ok\n")
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first: its copy is the same bytes
        shutil.rmtree(tmp, ignore_errors=True)


def released_dir() -> Path:
    """A directory laid out like the release's ``data/`` folder (without ``RapidIn_output/``), decompressed from
    the package data into ``$RAPIDUN_CACHE`` (default ``~/.cache/rapidun``) on first use and reused after; the
    directory name holds a hash of the shipped bytes, so an upgraded package never reads a stale copy."""
    files = _walk(_assets())
    if not any(name.endswith(".gz") for name, _ in files):
        raise RapidunError("the released Dolly data is missing from this rapidun install; reinstall rapidun")
    digest = hashlib.sha256()
    for name, node in files:
        digest.update(name.encode() + b"\0" + node.read_bytes())
    for root in (_cache_root(), Path(tempfile.gettempdir()) / "rapidun"):
        target = root / f"released-dolly-{digest.hexdigest()[:12]}"
        if (target / _DONE).is_file():
            return target
        try:
            _unpack(files, target)
        except OSError:
            continue  # an unwritable cache: try the next place
        if (target / _DONE).is_file():
            return target
    raise RapidunError("cannot unpack the released Dolly data; set RAPIDUN_CACHE to a writable directory")


def released_inputs() -> dict[str, Path]:
    """The files of a released-Dolly pack by role (``clean``, ``val``, ``poisoned_train``, ``triggers``,
    ``forget``, ``retain``, ``keywords``), as paths in :func:`released_dir`."""
    root = released_dir()
    return {role: root / name for role, name in _INPUTS.items()}
