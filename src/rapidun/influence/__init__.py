"""Influence stage (docs/method.md section 2): compressed per-sample gradients from one batched pass, a memory-mapped
cache, and chunked scores FF, FR, RF, RR; RapidIn's JSON format in and out.

``compute_influence`` / ``compute_pairwise`` (in :mod:`rapidun.influence.stage`) are imported lazily so that
reading RapidIn files does not load torch; the RapidIn readers too, so that ``import rapidun`` (which imports this
package: ``rapidun.influence(...)`` is also the flat API's function) stays light.
"""

from typing import Any

_LAZY = {"compute_influence", "compute_pairwise", "load_result", "InfluenceConfig", "InfluenceResult"}
_RAPIDIN = {"RapidInFile", "import_rapidin_json", "read_rapidin_json", "write_rapidin_json"}

__all__ = [*sorted(_RAPIDIN), *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rapidun.influence import stage

        return getattr(stage, name)
    if name in _RAPIDIN:
        from rapidun.influence import rapidin_json

        return getattr(rapidin_json, name)
    raise AttributeError(f"module 'rapidun.influence' has no attribute {name!r}")
