"""The weighting stage end to end: read influence scores, compute weights, write (or reuse) the output dir."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import clear_manifest, read_manifest
from rapidun.errors import RapidunError
from rapidun.weighting.compute import WeightParams, compute_weights
from rapidun.weighting.files import SUMMARY_FILE, write_weights
from rapidun.weighting.rapidin_dir import rapidin_files, read_rapidin_dir

log = logging.getLogger(__name__)

SCORES_FILE = "scores.safetensors"
MATRICES = ("FF", "FR", "RF", "RR")


def read_influence_dir(directory: str | Path) -> dict[str, np.ndarray]:
    """``{"FF", "FR", "RF", "RR"}`` matrices (rows = queries) from a finished ``rapidun influence`` directory."""
    d = Path(directory)
    if read_manifest(d) is None:
        raise RapidunError(f"--influence '{d}' is not a finished influence directory (no manifest.json); run it first")
    path = d / SCORES_FILE
    if not path.is_file():
        raise RapidunError(f"--influence '{d}' has no {SCORES_FILE}; rerun 'rapidun influence'")
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise RapidunError(f"cannot read '{path}': {exc}; rerun 'rapidun influence'") from exc
    missing = [m for m in MATRICES if m not in tensors]
    if missing:
        raise RapidunError(f"'{path}' lacks {', '.join(missing)}; rerun 'rapidun influence' with all four directions")
    out = {m: np.asarray(tensors[m], dtype=np.float64) for m in MATRICES}
    for m, arr in out.items():
        if not np.isfinite(arr).all():
            raise RapidunError(f"'{path}' matrix {m} holds NaN or infinite scores; rerun 'rapidun influence'")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _source(influence_dir: Path | None, rapidin_dir: Path | None) -> tuple[dict[str, Any], list[Path]]:
    if (influence_dir is None) == (rapidin_dir is None):
        raise RapidunError("pass exactly one of --influence DIR or --rapidin-dir DIR")
    if influence_dir is not None:
        files = [influence_dir / SCORES_FILE]
        kind, root = "influence", influence_dir
    else:
        assert rapidin_dir is not None
        found = rapidin_files(rapidin_dir)
        files = [found[m] for m in MATRICES]
        kind, root = "rapidin", rapidin_dir
    hashes = {f.name: _sha256(f) for f in files if f.is_file()}
    return {"kind": kind, "path": str(root.resolve()), "sha256": hashes}, files


def weights_stage(
    out_dir: str | Path,
    params: WeightParams,
    influence_dir: str | Path | None = None,
    rapidin_dir: str | Path | None = None,
    overwrite: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Compute and write weights into ``out_dir``; return ``(weights.json summary, reused)``.

    A finished ``out_dir`` made from the same inputs and params is reused; one made differently is an error
    unless ``overwrite``; a half-written one (no manifest) is rewritten.
    """
    params.validate()
    out = Path(out_dir)
    source, _ = _source(
        Path(influence_dir) if influence_dir is not None else None,
        Path(rapidin_dir) if rapidin_dir is not None else None,
    )
    config = {"params": params.to_dict(), "source": source}
    manifest = read_manifest(out)
    if manifest is not None and not overwrite:
        if manifest.get("stage") != "weights":
            raise RapidunError(f"--out '{out}' holds a finished '{manifest.get('stage')}' stage; choose another --out")
        if manifest.get("config") == json.loads(json.dumps(config)):
            log.info("reusing finished weights in %s (pass --overwrite to recompute)", out)
            return json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8")), True
        raise RapidunError(
            f"--out '{out}' holds weights made from other inputs or settings; pass --overwrite or choose another --out"
        )
    if manifest is not None and manifest.get("stage") != "weights":
        raise RapidunError(f"--out '{out}' holds a finished '{manifest.get('stage')}' stage; choose another --out")
    mats = read_influence_dir(influence_dir) if influence_dir is not None else read_rapidin_dir(rapidin_dir or "")
    result = compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], params)
    if out.exists():
        clear_manifest(out)
    write_weights(out, result, params, source)
    return json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8")), False
