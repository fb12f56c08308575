"""Weight files: writing a weights directory and validating a weights file for training.

Released format (``forget_weights.jsonl``, ``retain_weights.jsonl``): one JSON object per line,
``{"index": i, "weight": w}`` for the i-th row of the forget (or retain) set, indices 0..n-1, mean weight one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

import rapidun
from rapidun.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, ensure_dir, write_manifest
from rapidun.errors import RapidunError
from rapidun.weighting.compute import GroupWeights, WeightParams, WeightResult
from rapidun.weighting.plot import weights_histogram_png

FORGET_FILE = "forget_weights.jsonl"
RETAIN_FILE = "retain_weights.jsonl"
SUMMARY_FILE = "weights.json"
HIST_FILE = "weights_hist.png"


def group_summary(group: GroupWeights, w_min: float, w_max: float) -> dict[str, Any]:
    """Stats of one group's final weights, how many hit each clip bound, and the fused scores."""
    w = group.weights
    # Bounds are tested on the weights before mean normalisation, where clipping happened.
    lo = int(np.isclose(group.bounded, w_min, rtol=0, atol=1e-12).sum())
    hi = int(np.isclose(group.bounded, w_max, rtol=0, atol=1e-12).sum())
    return {
        "n": int(w.size),
        "min": float(w.min()),
        "max": float(w.max()),
        "mean": float(w.mean()),
        "median": float(np.median(w)),
        "std": float(w.std()),
        "distinct": int(np.unique(np.round(w, 12)).size),
        "at_w_min": lo,
        "at_w_max": hi,
        "scores": [float(s) for s in group.scores],
        "z": [float(z) for z in group.z],
    }


def weight_rows(weights: np.ndarray) -> list[dict[str, Any]]:
    return [{"index": i, "weight": float(w)} for i, w in enumerate(weights)]


def write_weights(out_dir: str | Path, result: WeightResult, params: WeightParams, source: dict[str, Any]) -> Path:
    """Write the weights directory; ``manifest.json`` (config + source) goes last. Returns ``out_dir``."""
    out = ensure_dir(out_dir)
    atomic_write_jsonl(out / FORGET_FILE, weight_rows(result.forget.weights))
    atomic_write_jsonl(out / RETAIN_FILE, weight_rows(result.retain.weights))
    summary = {
        "params": params.to_dict(),
        "source": source,
        "forget": group_summary(result.forget, params.w_min, params.w_max),
        "retain": group_summary(result.retain, params.w_min, params.w_max),
    }
    atomic_write_json(out / SUMMARY_FILE, summary)
    title = f"{params.weighting} weights ({params.aggregation}" + (
        f", top-{params.top_k})" if params.aggregation == "topk_median" else ")"
    )
    atomic_write_bytes(out / HIST_FILE, weights_histogram_png(result.forget.weights, result.retain.weights, title))
    write_manifest(
        out,
        {
            "stage": "weights",
            "rapidun_version": rapidun.__version__,
            "config": {"params": params.to_dict(), "source": source},
            "n_forget": int(result.forget.weights.size),
            "n_retain": int(result.retain.weights.size),
            "files": [FORGET_FILE, RETAIN_FILE, SUMMARY_FILE, HIST_FILE],
        },
    )
    return out


def load_weights(path: str | Path, n_rows: int) -> np.ndarray:
    """Weights ``(n_rows,)`` from a ``{"index", "weight"}`` JSONL file; every index 0..n_rows-1 exactly once,
    every weight finite and > 0. Raises :class:`RapidunError` naming the file and line otherwise."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RapidunError(f"cannot read weights file '{p}': {exc}; pass a file written by 'rapidun weights'") from exc
    weights = np.full(n_rows, np.nan)
    seen = np.zeros(n_rows, dtype=bool)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RapidunError(f"{where}: not valid JSON ({exc.msg}); each line must be {{'index', 'weight'}}") from exc
        if not isinstance(obj, dict) or "index" not in obj or "weight" not in obj:
            raise RapidunError(f"{where}: each line must be an object with 'index' and 'weight'")
        idx, w = obj["index"], obj["weight"]
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < n_rows:
            raise RapidunError(
                f"{where}: index {idx!r} does not match a row (the data has {n_rows} rows, indices 0..{n_rows - 1});"
                " recompute the weights for this data"
            )
        if seen[idx]:
            raise RapidunError(f"{where}: index {idx} appears twice; each row needs exactly one weight")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            raise RapidunError(f"{where}: weight {w!r} must be a finite number > 0")
        seen[idx] = True
        weights[idx] = float(w)
    if not seen.all():
        missing = np.flatnonzero(~seen)
        raise RapidunError(
            f"'{p}' has no weight for {missing.size} of {n_rows} rows (first missing index {int(missing[0])});"
            " recompute the weights for this data"
        )
    return weights
