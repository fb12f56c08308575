"""Per-row weights as a plug-in for every forget loss: ga, graddiff, uniform, npo, simnpo (docs/method.md section 3).

Without ``--weights`` such a method uses its own weights (all ones). With ``--weights DIR`` (the output of
``rapidun weights``) the objective multiplies each forget row's loss by its forget weight w_f(i) and each retain
row's CE by its retain weight w_r(j) (:mod:`rapidun.unlearning.objective`); all-ones files reproduce the
unweighted method exactly. A weights directory made for other rows is refused before any training: its manifest's
row counts and data hashes (its own, or those recorded by the influence run it came from) must match the data.
Weights held in memory are passed to :func:`rapidun.unlearning.unlearn` by writing them with
:func:`write_row_weights` and giving that directory as ``weights_dir``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rapidun.artifacts import atomic_write_jsonl, read_manifest, write_manifest
from rapidun.data.rows import Row, rows_hash
from rapidun.errors import RapidunError
from rapidun.unlearning.influence_weights import uniform_weights, weights_from_dir
from rapidun.unlearning.kinds import MethodContext, MethodWeights
from rapidun.weighting.files import FORGET_FILE, RETAIN_FILE, weight_rows

log = logging.getLogger(__name__)


def check_weights_dir(weights_dir: Path, forget_rows: Sequence[Row], retain_rows: Sequence[Row]) -> None:
    """Raise :class:`RapidunError` when ``weights_dir`` was made for another forget or retain set. Hand-written
    weight files (no manifest) are checked row by row when they are read."""
    if not weights_dir.is_dir():
        raise RapidunError(f"--weights '{weights_dir}' is not a directory; pass the --out of 'rapidun weights'")
    manifest = read_manifest(weights_dir)
    if manifest is None:
        return
    fix = "recompute them with 'rapidun weights' from influence on these --forget/--retain rows"
    made_for = (manifest.get("n_forget"), manifest.get("n_retain"))
    if made_for != (None, None) and made_for != (len(forget_rows), len(retain_rows)):
        raise RapidunError(
            f"--weights '{weights_dir}' was made for {made_for[0]} forget / {made_for[1]} retain rows but the data "
            f"has {len(forget_rows)} / {len(retain_rows)}; {fix}"
        )
    source = manifest.get("config", {}).get("source", {})
    influence = read_manifest(Path(source["path"])) if source.get("kind") == "influence" else None
    sets = influence.get("sets", {}) if influence is not None else {}
    recorded = [  # (hash recorded, how the weights relate to those rows, which rows)
        (manifest.get("forget_hash"), "for", "forget", forget_rows),
        (manifest.get("retain_hash"), "for", "retain", retain_rows),
        (sets.get("F", {}).get("data"), "from influence on", "forget", forget_rows),
        (sets.get("R", {}).get("data"), "from influence on", "retain", retain_rows),
    ]
    for digest, made, name, rows in recorded:
        if digest is not None and digest != rows_hash(rows):
            raise RapidunError(
                f"--weights '{weights_dir}' was made {made} another {name} set (data hash differs); {fix}"
            )
    checked = any(digest is not None for digest, _, _, _ in recorded)
    if not checked:
        log.info("--weights '%s': no data hash recorded to check; the row counts match", weights_dir)


def write_row_weights(
    directory: str | Path,
    forget: np.ndarray,
    retain: np.ndarray,
    forget_rows: Sequence[Row],
    retain_rows: Sequence[Row],
) -> Path:
    """Write per-row weights ``forget`` (nF,) and ``retain`` (nR,) for these rows as a weights directory that
    ``unlearn(..., weights_dir=...)`` reads; the manifest records the rows' data hashes. Returns the directory."""
    out = Path(directory)
    for name, w, rows in (("forget", forget, forget_rows), ("retain", retain, retain_rows)):
        if np.shape(w) != (len(rows),) or not np.isfinite(w).all() or (np.asarray(w) <= 0).any():
            raise RapidunError(f"{name} weights must be {len(rows)} finite numbers > 0 (one per {name} row)")
    atomic_write_jsonl(out / FORGET_FILE, weight_rows(np.asarray(forget, dtype=np.float64)))
    atomic_write_jsonl(out / RETAIN_FILE, weight_rows(np.asarray(retain, dtype=np.float64)))
    info = {
        "stage": "weights",
        "config": {"source": {"kind": "api"}},
        "n_forget": len(forget_rows),
        "n_retain": len(retain_rows),
        "forget_hash": rows_hash(forget_rows),
        "retain_hash": rows_hash(retain_rows),
    }
    write_manifest(out, info)
    return out


def plugin_weights(ctx: MethodContext, own: Callable[[], MethodWeights]) -> MethodWeights:
    """The weights of ``ctx.weights_dir`` when given (already checked by :func:`check_weights_dir`), else the
    method's own weights ``own()``."""
    if ctx.weights_dir is None:
        return own()
    return weights_from_dir(ctx)


def given_or_uniform_weights(ctx: MethodContext, params: object) -> MethodWeights:
    """The ``weights`` function of a method whose own weights are all ones (uniform, npo, simnpo, wga): the
    ``--weights`` directory when given, else ones."""
    return plugin_weights(ctx, lambda: uniform_weights(ctx))
