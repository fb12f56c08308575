"""Influence stage (docs/method.md section 2): compressed per-sample gradients from one batched pass, a memory-mapped
cache, and chunked scores FF, FR, RF, RR; RapidIn's JSON format in and out.

``compute_influence`` / ``compute_pairwise`` (in :mod:`rapidun.influence.stage`) are imported lazily so that
reading RapidIn files does not load torch.
"""

from typing import Any

from rapidun.influence.rapidin_json import RapidInFile, import_rapidin_json, read_rapidin_json, write_rapidin_json

_LAZY = {"compute_influence", "compute_pairwise", "load_result", "InfluenceConfig", "InfluenceResult"}

__all__ = ["RapidInFile", "import_rapidin_json", "read_rapidin_json", "write_rapidin_json", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rapidun.influence import stage

        return getattr(stage, name)
    raise AttributeError(f"module 'rapidun.influence' has no attribute {name!r}")
