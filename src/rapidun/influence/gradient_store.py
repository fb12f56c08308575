"""A resumable, memory-mapped store of projected gradients: one directory per set of rows (docs/method.md section 2).

Layout of a store directory::

    key.json            what the rows were computed from (model fingerprint, tracked parameters, loss, projector
                        name/dim/seed, data hash, dtype, batch size); written first
    grads.npy           (n_rows, K) float16 (default), float32, or int8 with ``scale.npy`` (n_rows,) float32
    projector.json      projector settings; projector.safetensors its random tensors when they are small
    progress/S-E.json   {"done": r}: rows [S, r) of shard [S, E) are on disk (rewritten atomically after a flush)
    manifest.json       written last: the store is complete only when it exists

Rows are computed in a fixed order and fixed batches (S, S+b, S+2b, ... within a shard), so a run killed part-way
and resumed ends with a file identical to an uninterrupted run. Several processes can each fill one shard [S, E)
of the same memmap; :meth:`GradientStore.finalize` checks that the shards cover every row.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.lib.format import open_memmap

from rapidun.artifacts import atomic_write_json, ensure_dir, read_manifest, write_manifest
from rapidun.errors import RapidunError

log = logging.getLogger(__name__)

DTYPES = {"fp16": np.float16, "fp32": np.float32, "int8": np.int8}
RESUME_ONLY = ("batch_size",)  # must match to resume a partial store; a finished store is reused regardless
_SMALL_STATE = 64 * 2**20  # projector tensors above this many bytes are not saved (they regenerate from the seed)


def _mismatch(have: dict[str, Any], want: dict[str, Any], skip: tuple[str, ...] = ()) -> str | None:
    for k in sorted(set(have) | set(want)):
        if k not in skip and have.get(k) != want.get(k):
            return f"{k}: cached {have.get(k)!r}, requested {want.get(k)!r}"
    return None


class GradientStore:
    """Projected gradients of ``n_rows`` rows, K numbers each, stored in ``directory``."""

    def __init__(self, directory: Path, n_rows: int, dim: int, dtype: str, key: dict[str, Any]) -> None:
        self.dir = directory
        self.n_rows = n_rows
        self.dim = dim
        self.dtype = dtype
        self.key = key
        self._grads: np.ndarray | None = None
        self._scale: np.ndarray | None = None

    # -- opening ---------------------------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return read_manifest(self.dir) is not None

    def _create(self) -> None:
        for p in [self.dir / "manifest.json", *self.dir.glob("progress/*.json")]:
            p.unlink(missing_ok=True)
        atomic_write_json(self.dir / "key.json", self.key)
        open_memmap(self.dir / "grads.npy", mode="w+", dtype=DTYPES[self.dtype], shape=(self.n_rows, self.dim))
        if self.dtype == "int8":
            open_memmap(self.dir / "scale.npy", mode="w+", dtype=np.float32, shape=(self.n_rows,))

    def _writable(self) -> np.ndarray:
        if self._grads is None:
            self._grads = open_memmap(self.dir / "grads.npy", mode="r+")
            if self.dtype == "int8":
                self._scale = open_memmap(self.dir / "scale.npy", mode="r+")
        return self._grads

    # -- writing ---------------------------------------------------------------------------------------------
    def _progress_path(self, start: int, end: int) -> Path:
        return self.dir / "progress" / f"{start:010d}-{end:010d}.json"

    def done(self, start: int, end: int) -> int:
        p = self._progress_path(start, end)
        if not p.is_file():
            return start
        return int(json.loads(p.read_text())["done"])

    def pending(self, start: int, end: int, batch_size: int) -> Iterator[tuple[int, int]]:
        """The batches [s, e) of shard [start, end) not yet on disk, in the fixed order."""
        first = self.done(start, end)
        for s in range(start, end, batch_size):
            if s >= first:
                yield s, min(s + batch_size, end)

    def write(self, start: int, values: torch.Tensor, shard: tuple[int, int]) -> None:
        """Store rows [start, start + len(values)) and record the shard's progress once they are flushed."""
        grads = self._writable()
        v = values.detach().to("cpu", torch.float32).numpy()
        stop = start + len(v)
        if self.dtype == "int8":
            assert self._scale is not None
            scale = np.abs(v).max(axis=1) / 127.0
            safe = np.where(scale > 0, scale, 1.0)
            grads[start:stop] = np.clip(np.rint(v / safe[:, None]), -127, 127).astype(np.int8)
            self._scale[start:stop] = scale
            self._scale.flush()  # type: ignore[attr-defined]
        else:
            cast = v.astype(grads.dtype)
            if not np.isfinite(cast).all():
                bad = "NaN" if np.isnan(v).any() else f"values beyond the {self.dtype} range"
                raise RapidunError(
                    f"rows {start}..{stop - 1} of '{self.dir}' have {bad}; use --dtype fp32 or keep "
                    "layer normalisation on (drop --no-layer-norm)"
                )
            grads[start:stop] = cast
        grads.flush()  # type: ignore[attr-defined]
        ensure_dir(self.dir / "progress")
        atomic_write_json(self._progress_path(*shard), {"start": shard[0], "end": shard[1], "done": stop})

    def finalize(self, projector_state: tuple[dict[str, Any], dict[str, torch.Tensor]], extra: dict[str, Any]) -> None:
        """Check that the shards cover every row, save the projector, and write the manifest (last)."""
        covered = np.zeros(self.n_rows, dtype=bool)
        for p in self.dir.glob("progress/*.json"):
            rec = json.loads(p.read_text())
            covered[rec["start"] : rec["done"]] = True
        if not covered.all():
            missing = int((~covered).sum())
            raise RapidunError(
                f"gradient store '{self.dir}' still misses {missing} row(s); run the same command again to finish it"
            )
        meta, tensors = projector_state
        nbytes = sum(t.numel() * t.element_size() for t in tensors.values())
        meta = dict(meta, tensors_saved=bool(tensors) and nbytes <= _SMALL_STATE)
        atomic_write_json(self.dir / "projector.json", meta)
        if meta["tensors_saved"]:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in tensors.items()}, str(self.dir / ".projector.tmp"))
            os.replace(self.dir / ".projector.tmp", self.dir / "projector.safetensors")
        write_manifest(self.dir, {**self.key, **extra})
        self._grads = self._scale = None

    # -- reading ---------------------------------------------------------------------------------------------
    def rows(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The read-only (n_rows, K) memmap and, for int8, the (n_rows,) per-row scale."""
        grads = np.load(self.dir / "grads.npy", mmap_mode="r")
        scale = np.load(self.dir / "scale.npy", mmap_mode="r") if self.dtype == "int8" else None
        return grads, scale

    def dense(self) -> np.ndarray:
        """All rows as float32 (small sets and tests)."""
        grads, scale = self.rows()
        out = np.asarray(grads, dtype=np.float32)
        return out * scale[:, None] if scale is not None else out


def _shape_problem(d: Path, n_rows: int, dim: int, dtype: str) -> str | None:
    """Why the store's arrays do not have the shape and dtype its key promises (None when they do)."""
    files: list[tuple[str, tuple[int, ...], Any]] = [("grads.npy", (n_rows, dim), DTYPES[dtype])]
    if dtype == "int8":
        files.append(("scale.npy", (n_rows,), np.float32))
    for name, shape, kind in files:
        try:
            arr = np.load(d / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            return f"gradient cache file '{d / name}' cannot be read ({exc})"
        if arr.shape != shape or arr.dtype != kind:
            return (
                f"gradient cache file '{d / name}' has shape {arr.shape} {arr.dtype}, expected {shape} {np.dtype(kind)}"
            )
    return None


def open_store(
    directory: str | os.PathLike[str], n_rows: int, dim: int, dtype: str, key: dict[str, Any], overwrite: bool = False
) -> GradientStore:
    """Open (finished: reuse; partial: resume) or create the store in ``directory``.

    A store computed from anything else (another model, projector, data, dtype) is refused with a message naming
    the first field that differs, unless ``overwrite``."""
    if dtype not in DTYPES:
        raise RapidunError(f"unknown cache dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
    d = ensure_dir(directory)
    key = dict(key, dtype=dtype, n_rows=n_rows, dim=dim)
    store = GradientStore(d, n_rows, dim, dtype, key)
    key_path = d / "key.json"
    if key_path.is_file() and (d / "grads.npy").is_file() and not overwrite:
        have = json.loads(key_path.read_text())
        finished = read_manifest(d) is not None
        why = _mismatch(have, key, skip=RESUME_ONLY if finished else ())
        if why is not None:
            state = "finished" if finished else "partial"
            raise RapidunError(
                f"gradient cache '{d}' ({state}) was built for something else ({why}); pass "
                "--overwrite to rebuild it or choose another --out/--cache-dir"
            )
        problem = _shape_problem(d, n_rows, dim, dtype)
        if problem is not None and finished:
            raise RapidunError(f"{problem}; it is damaged or from another run: pass --overwrite to rebuild it")
        if problem is None:
            log.info("%s gradient cache %s", "reusing finished" if finished else "resuming", d)
            return store
        log.warning("%s; the unfinished cache is rebuilt from the start", problem)  # e.g. a disk filled mid-write
    store._create()
    return store
