"""Import and export of RapidIn's ``influence_results_*.json`` files (docs/method.md section 2).

Format (as released with RapidUn, e.g. ``influence_results_40_FTF.json``)::

    {"config": "<str(config) of the run, or a JSON object>",
     "0": {"test_data": {...query row...},
           "helpful": [train indices, most positive score first], "helpful_infl": [their scores],
           "harmful": [train indices, most negative score first], "harmful_infl": [their scores]},
     "1": {...}, ..., "N-1": {...},
     "finished_cnt": "<n_query * n_train>/<n_query * n_train>"}

Query ``q``'s score on training row ``i`` is I(q, i) = <g(q), g(i)> (TracIn alignment). RapidIn keeps the top-k
(``top_k`` in its config) in each list; the released files hold every training row in both lists, so a dense
(n_query, n_train) matrix can be recovered exactly. A file truncated to a top-k cannot be made dense without a
``fill`` value for the missing pairs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_json
from rapidun.errors import RapidunError

_ENTRY_KEYS = ("test_data", "helpful", "helpful_infl", "harmful", "harmful_infl")


@dataclass
class RapidInFile:
    """The contents of one RapidIn results file. ``scores`` is (n_query, n_train) float64; ``test_data[q]`` is the
    query row as RapidIn stored it (Alpaca keys); ``config`` is kept verbatim (a string in the released files)."""

    scores: np.ndarray
    test_data: list[Any] = field(default_factory=list)
    config: Any = None
    finished_cnt: str | None = None


def _query_keys(data: dict[str, Any], where: str) -> list[str]:
    keys = [k for k in data if k not in ("config", "finished_cnt")]
    bad = [k for k in keys if not k.isdigit()]
    if bad:
        raise RapidunError(
            f"{where}: unexpected key '{bad[0]}'; a RapidIn results file has 'config', "
            "'finished_cnt' and one key per query '0'..'N-1'"
        )
    numbers = sorted(int(k) for k in keys)
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(max(numbers, default=-1) + 1)) - set(numbers))
        raise RapidunError(
            f"{where}: query keys are not 0..N-1 (missing {missing[:5]}); the file is incomplete, "
            "re-run RapidIn or export it again"
        )
    return [str(n) for n in numbers]


def _pairs(entry: dict[str, Any], where: str) -> dict[int, float]:
    for key in _ENTRY_KEYS[1:]:
        if not isinstance(entry.get(key), list):
            raise RapidunError(
                f"{where}: field '{key}' is missing or not a list; each query needs {', '.join(_ENTRY_KEYS)}"
            )
    out: dict[int, float] = {}
    for ikey, vkey in (("helpful", "helpful_infl"), ("harmful", "harmful_infl")):
        idx, val = entry[ikey], entry[vkey]
        if len(idx) != len(val):
            raise RapidunError(
                f"{where}: '{ikey}' has {len(idx)} indices but '{vkey}' has {len(val)} scores; the file is corrupt"
            )
        for i, v in zip(idx, val, strict=True):
            if isinstance(i, bool) or not isinstance(i, int) or i < 0:
                raise RapidunError(f"{where}: '{ikey}' holds {i!r}, not a training-row index >= 0")
            v = float(v)
            prev = out.get(i)
            if prev is not None and not math.isclose(prev, v, rel_tol=1e-6, abs_tol=1e-9):
                raise RapidunError(
                    f"{where}: training row {i} has two different scores ({prev} and {v}) in "
                    "'helpful' and 'harmful'; the file is corrupt"
                )
            out[i] = v
    return out


def read_rapidin_json(
    path: str | os.PathLike[str], *, n_train: int | None = None, fill: float | None = None
) -> RapidInFile:
    """Read a RapidIn results file into a dense (n_query, n_train) float64 matrix.

    ``n_train`` defaults to the largest training index seen plus one. A query that lacks a training index raises
    :class:`RapidunError` unless ``fill`` is given (e.g. ``0.0`` or ``nan``), which then stands in for it."""
    p = Path(path)
    where = str(p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RapidunError(f"cannot read RapidIn results '{p}': {exc.strerror}; check the path") from exc
    except json.JSONDecodeError as exc:
        raise RapidunError(
            f"{where}:{exc.lineno}: not valid JSON ({exc.msg}); give an influence_results_*.json "
            "file written by RapidIn or rapidun"
        ) from exc
    if not isinstance(data, dict):
        raise RapidunError(f"{where}: expected a JSON object with 'config' and query keys '0'..'N-1'")
    keys = _query_keys(data, where)
    entries = []
    for k in keys:
        entry = data[k]
        if not isinstance(entry, dict):
            raise RapidunError(f"{where}: query '{k}' is not an object with {', '.join(_ENTRY_KEYS)}")
        entries.append(_pairs(entry, f"{where}: query '{k}'"))
    seen = max((max(e) for e in entries if e), default=-1) + 1
    if n_train is None:
        n_train = seen
    elif seen > n_train:
        raise RapidunError(f"{where}: holds training index {seen - 1} but n_train={n_train}; pass the right size")
    scores = np.full((len(keys), n_train), np.nan if fill is None else fill, dtype=np.float64)
    for q, pairs in enumerate(entries):
        if fill is None and len(pairs) < n_train:
            missing = sorted(set(range(n_train)) - set(pairs))
            raise RapidunError(
                f"{where}: query '{q}' has no score for training row(s) {missing[:5]} (it keeps "
                f"{len(pairs)} of {n_train}, e.g. a top-k file); pass a fill value to accept that"
            )
        for i, v in pairs.items():
            scores[q, i] = v
    test_data = [data[k].get("test_data") for k in keys]
    finished = data.get("finished_cnt")
    return RapidInFile(scores, test_data, data.get("config"), None if finished is None else str(finished))


def import_rapidin_json(
    path: str | os.PathLike[str], *, n_train: int | None = None, fill: float | None = None
) -> np.ndarray:
    """The dense (n_query, n_train) float64 score matrix of a RapidIn results file (see :func:`read_rapidin_json`)."""
    return read_rapidin_json(path, n_train=n_train, fill=fill).scores


def write_rapidin_json(
    path: str | os.PathLike[str],
    scores: np.ndarray,
    *,
    test_data: Sequence[Any] | None = None,
    config: Any = None,
    top_k: int | None = None,
) -> None:
    """Write a (n_query, n_train) score matrix in RapidIn's format (atomically).

    ``helpful`` lists training indices by decreasing score and ``harmful`` by increasing score, each truncated to
    ``top_k`` (default: all rows, as in the released files, so that the file round-trips exactly). Scores are written
    as float64 JSON numbers; ``test_data[q]`` (default ``{}``) is the query row."""
    mat = np.asarray(scores, dtype=np.float64)
    if mat.ndim != 2:
        raise RapidunError(f"RapidIn export needs a 2-D (queries x train) score matrix, got shape {mat.shape}")
    n_query, n_train = mat.shape
    if test_data is not None and len(test_data) != n_query:
        raise RapidunError(f"RapidIn export: {len(test_data)} query rows for {n_query} score rows; pass one per query")
    k = n_train if top_k is None else max(0, min(int(top_k), n_train))
    out: dict[str, Any] = {"config": config if config is not None else {"writer": "rapidun", "top_k": k}}
    for q in range(n_query):
        row = mat[q]
        # Stable sorts so that ties keep index order on every platform (deterministic files).
        desc = np.argsort(-row, kind="stable")[:k]
        asc = np.argsort(row, kind="stable")[:k]
        out[str(q)] = {
            "test_data": test_data[q] if test_data is not None else {},
            "helpful": [int(i) for i in desc],
            "helpful_infl": [float(row[i]) for i in desc],
            "harmful": [int(i) for i in asc],
            "harmful_infl": [float(row[i]) for i in asc],
        }
    total = n_query * n_train
    out["finished_cnt"] = f"{total}/{total}"
    atomic_write_json(path, out)
