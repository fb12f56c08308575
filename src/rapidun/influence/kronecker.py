"""``kronecker``: per-layer two-sided projection, then a global sign-sum sketch (LoGra-style; docs/method.md section 2).

For layer l with random P_in (k_in, d_in) and P_out (k_out, d_out), entries N(0, 1/k) so that E[P^T P] = I,
P_out G_l P_in^T = sum_t (P_out delta_t)(P_in x_t)^T is formed as one (k_out, seq) x (seq, k_in) product per
sample, never the (d_out, d_in) gradient. The concatenation over layers (M = sum k_out k_in, about twice K) is then
compressed to K with the same permuted sign-sum sketch as ``rapidgrad``. Both stages are unbiased, so inner
products estimate <g(z), g(z')>. Layer-wise normalisation divides each layer's projected block by its own norm
(``norm="projected"``, the default: free, and a per-layer cosine in the projected space, whose norm estimates
||G_l|| without bias in the square) or by the exact ||G_l|| from (seq, seq) Gram matrices (``norm="exact"``, about
10% slower at 64 tokens).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rapidun.influence.hooks import TrackedLayer
from rapidun.influence.projection import DEFAULT_DIM, SignSketch, generator, inv_norm, sq_norm

EXPANSION = 2  # M / K: the per-layer stage keeps about twice as many numbers as the final sketch
NORMS = ("projected", "exact")


def layer_dims(layers: list[TrackedLayer], dim: int, expansion: int = EXPANSION) -> list[tuple[int, int]]:
    """(k_out, k_in) per layer: about sqrt(expansion * K / n_layers) each, capped at the layer's own size."""
    per_layer = expansion * dim / len(layers)
    out = []
    for t in layers:
        k_in = min(t.d_in, max(1, round(math.sqrt(per_layer))))
        k_out = min(t.d_out, max(1, math.ceil(per_layer / k_in)))
        out.append((k_out, k_in))
    return out


class KroneckerAccumulator:
    def __init__(self, proj: KroneckerProjector, batch: int, seq: int, per_token: bool, device: torch.device):
        self.proj = proj
        self.per_token = per_token
        shape = (batch, seq, 2 * proj.dim) if per_token else (batch, 2 * proj.dim)
        self.out2 = torch.zeros(shape, dtype=torch.float32, device=device)
        self.grams: dict[Any, torch.Tensor] = {}

    def add(self, i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        x, delta = x.float(), delta.float()
        exact_norm = self.proj.layer_norm and self.proj.norm == "exact"
        if exact_norm:
            delta = delta * inv_norm(sq_norm(x, delta, self.grams))[:, None, None]
        p_out, p_in = self.proj.matrices(i, x.device)
        a = delta if p_out is None else delta @ p_out.T  # (batch, seq, k_out)
        c = x if p_in is None else x @ p_in.T  # (batch, seq, k_in)
        v = torch.bmm(a.transpose(1, 2), c).reshape(a.shape[0], -1)  # (batch, k_out * k_in)
        if self.proj.layer_norm and not exact_norm:
            scale = inv_norm(v.square().sum(1))
            v = v * scale[:, None]
            a = a * scale[:, None, None]
        if self.per_token:
            v = (a[..., :, None] * c[..., None, :]).reshape(a.shape[0], a.shape[1], -1)
        self.proj.sketch.add(self.out2, i, v)

    def finish(self) -> torch.Tensor:
        return self.proj.sketch.fold(self.out2)


class KroneckerProjector:
    name = "kronecker"

    def __init__(
        self,
        layers: list[TrackedLayer],
        dim: int | None = None,
        seed: int = 0,
        layer_norm: bool = True,
        norm: str = "projected",
    ):
        assert norm in NORMS
        self.dim = int(dim or DEFAULT_DIM)
        self.seed = seed
        self.layer_norm = layer_norm
        self.norm = norm
        self.dims = layer_dims(layers, self.dim)
        self.p_in: list[torch.Tensor | None] = []
        self.p_out: list[torch.Tensor | None] = []
        for j, (t, (k_out, k_in)) in enumerate(zip(layers, self.dims, strict=True)):
            g = generator(seed, 1000 + j)
            # A side kept whole (k == d) is the identity: exact for that side and no work.
            self.p_out.append(None if k_out == t.d_out else torch.randn(k_out, t.d_out, generator=g) / math.sqrt(k_out))
            self.p_in.append(None if k_in == t.d_in else torch.randn(k_in, t.d_in, generator=g) / math.sqrt(k_in))
        self.sketch = SignSketch([a * b for a, b in self.dims], self.dim, seed, salt=2)
        self._on: dict[torch.device, tuple[list[torch.Tensor | None], list[torch.Tensor | None]]] = {
            torch.device("cpu"): (self.p_out, self.p_in)
        }

    def matrices(self, i: int, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        on = self._on.get(device)
        if on is None:
            move = [None if p is None else p.to(device) for p in self.p_out]
            on = self._on[device] = (move, [None if p is None else p.to(device) for p in self.p_in])
        return on[0][i], on[1][i]

    def start(
        self, batch: int, seq: int, *, per_token: bool = False, device: torch.device | str = "cpu"
    ) -> KroneckerAccumulator:
        return KroneckerAccumulator(self, batch, seq, per_token, torch.device(device))

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta = {
            "name": self.name,
            "dim": self.dim,
            "seed": self.seed,
            "layer_norm": self.layer_norm,
            "expansion": EXPANSION,
            "norm": self.norm,
            "layer_dims": self.dims,
            "scale": "N(0, 1/k)",
        }
        tensors = {f"p_out.{j}": p for j, p in enumerate(self.p_out) if p is not None}
        tensors.update({f"p_in.{j}": p for j, p in enumerate(self.p_in) if p is not None})
        tensors.update(self.sketch.tensors("bucket"))
        return meta, tensors
