"""The four directional matrices from a RapidIn output directory of ``influence_results_*.json`` files.

Each file is parsed by :func:`rapidun.influence.rapidin_json.read_rapidin_json`; this module decides which file
holds which direction and assembles FF, FR, RF, RR with consistent shapes.

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
from typing import Any

import numpy as np

from rapidun.errors import RapidunError
from rapidun.influence.rapidin_json import RapidInFile, read_rapidin_json

_NAME = re.compile(r"influence_results_(\d+)_([FR])T([FR])\.json$")
_PATH_KEY = re.compile(r"(train|test)_data_path['\"]?\s*:\s*['\"]([^'\"]*)['\"]")
# (train set, test set) -> rapidun matrix name (rows = test/query set, columns = train set).
DIRECTIONS: dict[tuple[str, str], str] = {("F", "F"): "FF", ("F", "R"): "FR", ("R", "F"): "RF", ("R", "R"): "RR"}


def _set_letter(name: str) -> str | None:
    name = name.lower()
    if "forget" in name and "retain" not in name:
        return "F"
    if "retain" in name and "forget" not in name:
        return "R"
    return None


def direction(config: Any, path: Path) -> tuple[str, str] | None:
    """(train, test) set letters F/R from the config's data paths, else from the file name; None if neither tells."""
    text = config if isinstance(config, str) else json.dumps(config)
    found = dict(_PATH_KEY.findall(text or ""))
    letters = [_set_letter(Path(found.get(k, "")).name) for k in ("train", "test")]
    if letters[0] and letters[1]:
        return letters[0], letters[1]
    m = _NAME.search(path.name)
    return (m.group(2), m.group(3)) if m else None


def _read_all(directory: Path) -> dict[str, tuple[Path, RapidInFile]]:
    if not directory.is_dir():
        raise RapidunError(f"--rapidin-dir '{directory}' is not a directory")
    found: dict[str, tuple[Path, RapidInFile]] = {}
    for path in sorted(directory.glob("influence_results_*.json")):
        # NaN stands for pairs a top-k file does not list; aggregation decides whether it can do without them.
        parsed = read_rapidin_json(path, fill=float("nan"))
        d = direction(parsed.config, path)
        if d is None:
            continue
        name = DIRECTIONS[d]
        if name in found:
            raise RapidunError(f"both '{found[name][0].name}' and '{path.name}' in '{directory}' hold {name}; keep one")
        found[name] = (path, parsed)
    missing = [n for n in DIRECTIONS.values() if n not in found]
    if missing:
        raise RapidunError(
            f"'{directory}' lacks RapidIn results for {', '.join(missing)}; expected influence_results_*.json files"
            " whose train/test data paths name the forget and retain sets (or named <n>_<train>T<test>, e.g. 40_FTR)"
        )
    return found


def rapidin_files(directory: str | Path) -> dict[str, Path]:
    """``{"FF": path, "FR": ..., "RF": ..., "RR": ...}``: which results file in ``directory`` holds which matrix."""
    return {name: path for name, (path, _) in _read_all(Path(directory)).items()}


def read_rapidin_dir(directory: str | Path) -> dict[str, np.ndarray]:
    """``{"FF", "FR", "RF", "RR"}`` float64 matrices (rows = queries, NaN = not listed) from a RapidIn output dir.

    A name reads <train set><query set>: FR holds the forget train rows scored by the retain queries, (nR, nF).
    """
    found = _read_all(Path(directory))
    n = {"F": found["FF"][1].scores.shape[0], "R": found["RR"][1].scores.shape[0]}
    out: dict[str, np.ndarray] = {}
    for name, (path, parsed) in found.items():
        rows, cols = n[name[1]], n[name[0]]
        m = parsed.scores
        if m.shape[0] != rows or m.shape[1] > cols:
            raise RapidunError(
                f"'{path}' holds {m.shape[0]} queries x train index up to {m.shape[1] - 1}, but {name} must be"
                f" ({rows}, {cols}) given the forget/retain sizes of the FF and RR files; check the RapidIn runs"
            )
        # Train rows never listed by any query (top-k files) are unknown, not absent.
        out[name] = np.pad(m, ((0, 0), (0, cols - m.shape[1])), constant_values=np.nan)
    return out
