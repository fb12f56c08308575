"""What every gradient projector shares: its protocol, layer-wise normalisation, and the sign-sum sketch.

A projector maps the per-sample gradient of the tracked layers, g(z) = concat_l G_l(z) with
G_l = sum_t delta_t^T x_t (docs/method.md section 2), to a K-dimensional vector whose inner products estimate
<g(z), g(z')> without bias. With layer-wise normalisation (RapidIn), each G_l is divided by its Frobenius norm
first, so a score is a sum over layers of per-layer cosines.

Per-token mode returns the position-wise decomposition: the vector of position t projects
concat_l delta_t^T x_t / ||G_l||, and the vectors of all positions sum to the sequence vector.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from rapidun.influence.hooks import TrackedLayer

DEFAULT_DIM = 65_536  # K of the sketching projectors when --dim is not given (RapidIn's default)


class Accumulator(Protocol):
    """Collects one batch's layers (in any order) and returns the projected gradients."""

    def add(self, i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        """Layer ``i``: input ``x`` (batch, seq, d_in), output gradient ``delta`` (batch, seq, d_out)."""

    def finish(self) -> torch.Tensor:
        """(batch, K) float32, or (batch, seq, K) in per-token mode."""


class Projector(Protocol):
    name: str
    dim: int

    def start(
        self, batch: int, seq: int, *, per_token: bool = False, device: torch.device | str = "cpu"
    ) -> Accumulator: ...

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """JSON-able settings and the random tensors (saved as safetensors beside the cache)."""


def generator(seed: int, salt: int) -> torch.Generator:
    """A CPU generator for one random object; ``salt`` separates the objects drawn from one seed."""
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + salt) % (2**63 - 1))
    return g


def sq_norm(x: torch.Tensor, delta: torch.Tensor, shared: dict[Any, torch.Tensor] | None = None) -> torch.Tensor:
    """||sum_t delta_t^T x_t||_F^2 per sample, (batch,), without forming the (d_out, d_in) matrix:
    sum_{t,s} (delta delta^T)_{ts} (x x^T)_{ts}. ``shared`` caches the input Gram across layers that read the
    same input tensor (q, k, v; gate, up)."""
    if x.shape[1] * (x.shape[2] + delta.shape[2]) >= x.shape[2] * delta.shape[2]:
        # Long sequences: forming G is the cheaper way.
        return torch.linalg.matrix_norm(torch.bmm(delta.transpose(1, 2), x)).square()
    key = (x.data_ptr(), tuple(x.shape))
    gx = shared.get(key) if shared is not None else None
    if gx is None:
        gx = torch.bmm(x, x.transpose(1, 2))
        if shared is not None:
            shared[key] = gx
    gd = torch.bmm(delta, delta.transpose(1, 2))
    return (gx * gd).sum(dim=(1, 2)).clamp_min(0)


def inv_norm(sq: torch.Tensor) -> torch.Tensor:
    """1 / ||G|| per sample, 0 where the gradient is exactly zero (it then contributes nothing)."""
    norm = sq.sqrt()
    return torch.where(norm > 0, 1.0 / norm.clamp_min(1e-30), torch.zeros_like(norm))


class SignSketch:
    """RapidIn's compression of a D-vector to K numbers: zero-pad D to a multiple of K, permute, flip random
    signs, and sum contiguous groups of D_pad / K (one random permutation is equivalent in distribution to RapidIn's
    40 factorised shuffles). Stored as one int64 index per coordinate into 2K buckets (bucket + K for a negative
    sign), so that projecting is one ``index_add_`` and a subtraction."""

    def __init__(self, sizes: list[int], dim: int, seed: int, salt: int) -> None:
        total = sum(sizes)
        group = -(-total // dim)  # ceil(D / K)
        g = generator(seed, salt)
        perm = torch.randperm(group * dim, generator=g)[:total]
        negative = torch.randint(0, 2, (total,), generator=g, dtype=torch.int64)
        index = perm // group + dim * negative
        self.dim = dim
        self.parts = list(torch.split(index, sizes))
        self._on: dict[torch.device, list[torch.Tensor]] = {torch.device("cpu"): self.parts}

    def add(self, out2: torch.Tensor, part: int, values: torch.Tensor) -> None:
        """``out2`` (..., 2K) += sketch of ``values`` (..., sizes[part])."""
        parts = self._on.get(out2.device)
        if parts is None:
            parts = self._on[out2.device] = [p.to(out2.device) for p in self.parts]
        out2.index_add_(out2.dim() - 1, parts[part], values)

    def fold(self, out2: torch.Tensor) -> torch.Tensor:
        return out2[..., : self.dim] - out2[..., self.dim :]

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        return {f"{prefix}.{i}": p for i, p in enumerate(self.parts)}


def sizes_of(layers: list[TrackedLayer]) -> list[int]:
    return [t.d_out * t.d_in for t in layers]
