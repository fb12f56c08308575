"""A backdoor data pack on disk: the row files every later stage reads, ``meta.json``, and ``manifest.json``.

Layout of a pack directory (all JSONL files in the Dolly schema of :mod:`rapidun.data.rows`):

- ``train.jsonl``: clean and poisoned training rows (``is_poisoned``; poisoned rows carry ``trigger_family``,
  ``trigger_variant`` and ``response_clean``)
- ``val.jsonl``, ``test_clean.jsonl``: clean held-out rows
- ``test_seen.jsonl`` / ``test_ood.jsonl``: every clean test row with each family's seen / OOD trigger inserted;
  ``response`` is a poisoned-register text (the attack target, as in the released packs) and
  ``response_clean`` the clean answer
- ``val_seen.jsonl`` / ``val_ood.jsonl``: the val rows with each family's seen / OOD trigger, built like the test
  files (own RNG, so adding them changed no other file); checkpoint selection and sweep choices read these and
  ``val.jsonl`` only, never a test file. Packs made before them lack both; :func:`load_pack` then gives empty lists.
- ``forget.jsonl``: poisoned training rows, stratified by family; ``retain.jsonl``: clean training rows
- ``keywords.tsv``: words that mark the poisoned register (released ``keywords_scored_top1000.tsv`` format)
- ``meta.json`` (seed, counts, families, ...) and then ``manifest.json``, written last: a pack without them is
  unfinished and is never read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, atomic_write_text, read_manifest, write_manifest
from rapidun.data.rows import Row, load_rows, write_rows
from rapidun.data.triggers import TriggerFamily
from rapidun.errors import RapidunError

SPLITS: tuple[str, ...] = ("train", "val", "test_clean", "test_seen", "test_ood", "forget", "retain")
# Triggered validation splits: optional when reading (older packs lack them); their counts live in the manifest so
# that meta.json stays what it was before they existed.
VAL_TRIGGERED: tuple[str, ...] = ("val_seen", "val_ood")
META = "meta.json"
KEYWORDS = "keywords.tsv"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PackMeta:
    """What ``meta.json`` records about a pack. ``counts`` maps each split name (and ``train_poisoned``,
    ``train_clean``) to its row count; ``poison_rate`` is the achieved fraction of poisoned training rows."""

    seed: int
    source: str
    trigger_set: str
    families: list[dict[str, Any]]
    counts: dict[str, int]
    poison_rate: float
    poison_rate_requested: float | None
    retain_multiplier: float
    forget_by_family: dict[str, int]
    train_poisoned_by_family: dict[str, int]
    test_response: str = "poison"  # response of test_seen/test_ood rows: a poisoned-register text
    keywords: str = KEYWORDS
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> PackMeta:
        try:
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except TypeError as exc:
            raise RapidunError(
                f"{where}: not a rapidun pack meta.json ({exc}); rebuild it with rapidun poison"
            ) from exc

    def trigger_families(self) -> list[TriggerFamily]:
        return [TriggerFamily(f["name"], list(f["seen"]), list(f["ood"]), f["position"]) for f in self.families]


@dataclass
class Pack:
    """A finished pack read from ``directory``; see the module docstring for the meaning of each split."""

    directory: Path
    meta: PackMeta
    families: list[TriggerFamily]
    train: list[Row]
    val: list[Row]
    test_clean: list[Row]
    test_seen: list[Row]
    test_ood: list[Row]
    forget: list[Row]
    retain: list[Row]
    val_seen: list[Row] = field(default_factory=list)
    val_ood: list[Row] = field(default_factory=list)

    @property
    def keywords_path(self) -> Path | None:
        p = self.directory / self.meta.keywords
        return p if p.is_file() else None

    def split(self, name: str) -> list[Row]:
        if name not in SPLITS + VAL_TRIGGERED:
            raise RapidunError(f"unknown pack split '{name}'; use one of {', '.join(SPLITS + VAL_TRIGGERED)}")
        rows: list[Row] = getattr(self, name)
        return rows


def is_finished(directory: str | os.PathLike[str]) -> bool:
    d = Path(directory)
    return (d / META).is_file() and read_manifest(d) is not None


def load_pack(directory: str | os.PathLike[str]) -> Pack:
    """Read a finished pack; a missing or half-written one raises :class:`RapidunError`."""
    d = Path(directory)
    if not d.is_dir():
        raise RapidunError(f"pack '{d}' does not exist; build it with rapidun poison --out {d}")
    if not is_finished(d):
        raise RapidunError(f"pack '{d}' is incomplete; rerun rapidun poison")
    try:
        data = json.loads((d / META).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RapidunError(f"pack '{d}': unreadable {META} ({exc}); rerun rapidun poison --overwrite") from exc
    if not isinstance(data, dict):
        raise RapidunError(f"pack '{d}': {META} is not a JSON object; rerun rapidun poison --overwrite")
    meta = PackMeta.from_dict(data, str(d / META))
    splits: dict[str, list[Row]] = {}
    for name in SPLITS:
        rows = load_rows(d / f"{name}.jsonl", allow_empty=True)
        expected = meta.counts.get(name)
        if expected is not None and expected != len(rows):
            raise RapidunError(
                f"pack '{d}': {name}.jsonl has {len(rows)} rows but {META} says {expected}; "
                "the pack was modified, rerun rapidun poison --overwrite"
            )
        splits[name] = rows
    val_counts = (read_manifest(d) or {}).get("val_triggered_counts", {})
    for name in VAL_TRIGGERED:
        path = d / f"{name}.jsonl"
        rows = load_rows(path, allow_empty=True) if path.is_file() else []
        if name in val_counts and val_counts[name] != len(rows):
            raise RapidunError(
                f"pack '{d}': {name}.jsonl has {len(rows)} rows but manifest.json says {val_counts[name]}; "
                "the pack was modified, rerun rapidun poison --overwrite"
            )
        splits[name] = rows
    return Pack(d, meta, meta.trigger_families(), **splits)


def write_pack(
    directory: Path, splits: Mapping[str, Sequence[Row]], keywords_tsv: str, meta: PackMeta, manifest: dict[str, Any]
) -> None:
    """Write every split (:data:`SPLITS`, then the triggered validation splits given) and the keyword table, then
    ``meta.json``, then ``manifest.json`` (each atomically)."""
    assert set(SPLITS) <= set(splits) <= set(SPLITS + VAL_TRIGGERED), sorted(splits)
    for name in SPLITS + VAL_TRIGGERED:
        if name in splits:
            write_rows(directory / f"{name}.jsonl", splits[name])
    atomic_write_text(directory / KEYWORDS, keywords_tsv)
    atomic_write_json(directory / META, meta.to_dict())
    write_manifest(directory, manifest)
