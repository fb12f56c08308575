"""The projector registry: name -> class, one file each (docs/method.md section 2)."""

from __future__ import annotations

from rapidun.errors import RapidunError
from rapidun.influence.exact import ExactProjector
from rapidun.influence.hooks import TrackedLayer
from rapidun.influence.kronecker import KroneckerProjector
from rapidun.influence.projection import DEFAULT_DIM, Projector
from rapidun.influence.rapidgrad import RapidGradProjector

PROJECTORS: dict[str, type] = {
    "exact": ExactProjector,
    "rapidgrad": RapidGradProjector,
    "kronecker": KroneckerProjector,
}
DEFAULT_PROJECTOR = "kronecker"
__all__ = ["DEFAULT_DIM", "DEFAULT_PROJECTOR", "EXACT_LIMIT", "PROJECTORS", "make_projector"]
EXACT_LIMIT = 50_000_000  # tracked weights above which `exact` is refused (4 bytes each per cached row)


def make_projector(
    name: str, layers: list[TrackedLayer], dim: int | None = None, seed: int = 0, layer_norm: bool = True
) -> Projector:
    """Build the named projector for the tracked layers; deterministic given ``seed``."""
    cls = PROJECTORS.get(name)
    if cls is None:
        raise RapidunError(f"unknown --projector '{name}'; choose one of {', '.join(PROJECTORS)}")
    if name == "exact":
        total = sum(t.d_out * t.d_in for t in layers)
        if total > EXACT_LIMIT:
            raise RapidunError(f"--projector exact would store {total:,} numbers per row; use rapidgrad or kronecker")
    elif dim is not None and dim < 1:
        raise RapidunError(f"--dim must be a positive integer, got {dim}")
    proj: Projector = cls(layers, dim=dim, seed=seed, layer_norm=layer_norm)
    return proj
