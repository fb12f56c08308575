"""Reader for RapidIn's ``influence_results_*.json`` (the released RapidUn run's influence output).

File layout (RapidIn, ``infl_method: TracIn``): a JSON object with ``"config"`` (a *string*: the Python repr of
RapidIn's config, including ``train_data_path`` and ``test_data_path``), ``"finished_cnt"`` (``"done/total"``)
and one entry per test (query) row ``"0" .. "N-1"``, each with ``test_data`` (the query row), ``helpful`` (train
indices by descending score), ``helpful_infl`` (their scores), ``harmful`` / ``harmful_infl`` (ascending). Only
the ``top_k`` highest and lowest scores are listed; the released run used ``top_k = 1000``, so every train row is
present. Scores missing from the lists become NaN.

What we found in the released ``data/RapidIn_output/`` (names read ``<train>T<test>``; confirmed by each
file's ``train_data_path``/``test_data_path`` and by its shape):

=============================  ===========  ===========  =====================  ================
file                           train set    test set     rapidun matrix         shape
=============================  ===========  ===========  =====================  ================
influence_results_40_FTF.json  forget (40)  forget (40)  FF                     (40, 40)
influence_results_40_FTR.json  forget (40)  retain (120) FR                     (120, 40)
influence_results_120_RTF.json retain (120) forget (40)  RF                     (40, 120)
influence_results_120_RTR.json retain (120) retain (120) RR                     (120, 120)
=============================  ===========  ===========  =====================  ================

The released ``forget_weights.jsonl`` is reproduced (max abs error 1.3e-15) by S_f = median_q FF - median_q FR
and ``retain_weights.jsonl`` (4.4e-16) by S_r = median_q RR - median_q RF, where each matrix first keeps only
each query's top 40 scores (others 0): ``WeightParams.faithful()``. The forget side is unaffected by the
truncation (only 40 forget rows); on the retain side most medians are exactly 0, the MAD is 0, the 1e-3 floor
saturates every non-median score, and the weights take three values, 0.2, 1 and 3 before normalisation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from rapidun.errors import RapidunError

_NAME = re.compile(r"influence_results_(\d+)_([FR])T([FR])\.json$")
_PATH_KEY = re.compile(r"(train|test)_data_path\s*:\s*'([^']*)'")
# (train set, test set) -> rapidun matrix name (rows = test/query set, columns = train set).
DIRECTIONS: dict[tuple[str, str], str] = {("F", "F"): "FF", ("F", "R"): "FR", ("R", "F"): "RF", ("R", "R"): "RR"}


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RapidunError(f"cannot read RapidIn results '{path}': {exc}; pass RapidIn JSON output") from exc
    if not isinstance(data, dict):
        raise RapidunError(f"'{path}' is not a RapidIn results object; pass RapidIn influence_results_*.json")
    return data


def _queries(data: dict, path: Path) -> list[dict]:
    ids = sorted(int(k) for k in data if k.isdigit())
    if not ids or ids != list(range(len(ids))):
        raise RapidunError(f"'{path}' must hold query entries '0'..'N-1'; is the RapidIn run finished?")
    return [data[str(q)] for q in ids]


def _scores(entries: list[dict], path: Path, n_train: int | None) -> np.ndarray:
    if n_train is None:
        n_train = 1 + max(max(list(e.get("helpful", [])) + list(e.get("harmful", [])), default=-1) for e in entries)
    scores = np.full((len(entries), n_train), np.nan)
    for q, entry in enumerate(entries):
        for ids_key, val_key in (("helpful", "helpful_infl"), ("harmful", "harmful_infl")):
            ids, vals = entry.get(ids_key), entry.get(val_key)
            if not isinstance(ids, list) or not isinstance(vals, list) or len(ids) != len(vals):
                raise RapidunError(f"'{path}' query {q}: '{ids_key}' and '{val_key}' must be lists of equal length")
            for i, v in zip(ids, vals, strict=True):
                if not isinstance(i, int) or not 0 <= i < n_train:
                    raise RapidunError(f"'{path}' query {q}: train index {i!r} outside 0..{n_train - 1}")
                if not isinstance(v, (int, float)) or not np.isfinite(v):
                    raise RapidunError(f"'{path}' query {q}: score {v!r} of train index {i} is not a finite number")
                if not np.isnan(scores[q, i]) and scores[q, i] != v:
                    raise RapidunError(f"'{path}' query {q}: train index {i} has two different scores")
                scores[q, i] = float(v)
    return scores


def read_rapidin_json(path: str | Path, n_train: int | None = None) -> np.ndarray:
    """Scores ``(n_query, n_train)`` (float64, NaN where RapidIn did not list a score) from one results file.

    ``n_train`` defaults to one more than the largest listed train index.
    """
    p = Path(path)
    return _scores(_queries(_load(p), p), p, n_train)


def _direction(data: dict, path: Path) -> tuple[str, str] | None:
    """(train, test) set letters from the config's data paths, else from the file name; None if neither tells."""
    cfg = data.get("config", "")
    found = dict(_PATH_KEY.findall(cfg if isinstance(cfg, str) else json.dumps(cfg).replace('"', "'")))
    letters = [_set_letter(Path(found.get(k, "")).name) for k in ("train", "test")]
    if letters[0] and letters[1]:
        return letters[0], letters[1]
    m = _NAME.search(path.name)
    return (m.group(2), m.group(3)) if m else None


def _set_letter(name: str) -> str | None:
    name = name.lower()
    if "forget" in name and "retain" not in name:
        return "F"
    if "retain" in name and "forget" not in name:
        return "R"
    return None


def rapidin_files(directory: str | Path) -> dict[str, Path]:
    """``{"FF": path, "FR": ..., "RF": ..., "RR": ...}``: which results file in ``directory`` holds which matrix."""
    d = Path(directory)
    if not d.is_dir():
        raise RapidunError(f"--rapidin-dir '{d}' is not a directory")
    found: dict[str, Path] = {}
    for path in sorted(d.glob("influence_results_*.json")):
        direction = _direction(_load(path), path)
        if direction is None:
            continue
        name = DIRECTIONS[direction]
        if name in found:
            raise RapidunError(f"both '{found[name].name}' and '{path.name}' in '{d}' hold {name}; keep one")
        found[name] = path
    missing = [n for n in DIRECTIONS.values() if n not in found]
    if missing:
        raise RapidunError(
            f"'{d}' lacks RapidIn results for {', '.join(missing)}; expected influence_results_<n>_<train>T<test>.json"
            " files for train/test sets forget (F) and retain (R)"
        )
    return found


def read_rapidin_dir(directory: str | Path) -> dict[str, np.ndarray]:
    """``{"FF", "FR", "RF", "RR"}`` score matrices (rows = queries, float64) from a RapidIn output directory."""
    files = rapidin_files(directory)
    entries = {name: _queries(_load(path), path) for name, path in files.items()}
    n = {"F": len(entries["FF"]), "R": len(entries["RR"])}
    # A name reads <train set><query set>; its column count is the train set's size (the square file's row count).
    return {name: _scores(entries[name], files[name], n[name[0]]) for name in DIRECTIONS.values()}
