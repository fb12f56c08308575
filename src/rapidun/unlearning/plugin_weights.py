"""Per-row weights as a plug-in for every forget loss: ga, graddiff, uniform, npo, simnpo (docs/method.md section 3).

Without ``--weights`` such a method uses its own weights (all ones). With ``--weights DIR`` (the output of
``rapidun weights``) the objective multiplies each forget row's loss by its forget weight w_f(i) and each retain
row's CE by its retain weight w_r(j) (:mod:`rapidun.unlearning.objective`); all-ones files reproduce the
unweighted method exactly. A weights directory made for other rows is refused before any training: its manifest's
row counts, and the forget/retain data hashes recorded by the influence run it came from, must match the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidun.artifacts import read_manifest
from rapidun.data.rows import Row, rows_hash
from rapidun.errors import RapidunError
from rapidun.unlearning.influence_weights import weights_from_dir
from rapidun.unlearning.kinds import MethodContext, MethodWeights

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
    for key, rows, name in (("F", forget_rows, "forget"), ("R", retain_rows, "retain")):
        recorded = sets.get(key, {}).get("data")
        if recorded is not None and recorded != rows_hash(rows):
            raise RapidunError(
                f"--weights '{weights_dir}' was made from influence on another {name} set (data hash differs); {fix}"
            )
    if not sets:
        log.info("--weights '%s': no influence record to check the data hash against; row counts match", weights_dir)


def plugin_weights(ctx: MethodContext, own: Callable[[], MethodWeights]) -> MethodWeights:
    """The weights of ``ctx.weights_dir`` when given (already checked by :func:`check_weights_dir`), else the
    method's own weights ``own()``."""
    if ctx.weights_dir is None:
        return own()
    return weights_from_dir(ctx)
