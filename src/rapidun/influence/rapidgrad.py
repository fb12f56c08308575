"""``rapidgrad``: RapidIn's RapidGrad compression, faithful (docs/method.md section 2).

g(z) = concat_l G_l (each layer-normalised by default), zero-padded to a multiple of K, randomly permuted, random
signs, sum-pooled into K buckets. Per batch each layer's (batch, d_out, d_in) gradient is formed with one ``bmm``
and scattered into the K buckets with one ``index_add_``; the model-sized concatenated vector is never built.
"""

from __future__ import annotations

from typing import Any

import torch

from rapidun.influence.hooks import TrackedLayer
from rapidun.influence.projection import DEFAULT_DIM, SignSketch, inv_norm, sizes_of


class RapidGradAccumulator:
    def __init__(self, proj: RapidGradProjector, batch: int, seq: int, per_token: bool, device: torch.device):
        self.proj = proj
        self.per_token = per_token
        shape = (batch, seq, 2 * proj.dim) if per_token else (batch, 2 * proj.dim)
        self.out2 = torch.zeros(shape, dtype=torch.float32, device=device)

    def add(self, i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        x, delta = x.float(), delta.float()
        G = torch.bmm(delta.transpose(1, 2), x)  # (batch, d_out, d_in)
        if self.proj.layer_norm:
            scale = inv_norm(torch.linalg.matrix_norm(G).square())
        else:
            scale = torch.ones(len(G), device=G.device)
        if not self.per_token:
            self.proj.sketch.add(self.out2, i, G.reshape(len(G), -1) * scale[:, None])
            return
        for b in range(len(G)):  # per sample to bound memory at seq x d_out x d_in
            Gt = torch.einsum("to,ti->toi", delta[b] * scale[b], x[b]).reshape(x.shape[1], -1)
            self.proj.sketch.add(self.out2[b, : x.shape[1]], i, Gt)

    def finish(self) -> torch.Tensor:
        return self.proj.sketch.fold(self.out2)


class RapidGradProjector:
    name = "rapidgrad"

    def __init__(self, layers: list[TrackedLayer], dim: int | None = None, seed: int = 0, layer_norm: bool = True):
        self.dim = int(dim or DEFAULT_DIM)
        self.seed = seed
        self.layer_norm = layer_norm
        self.sketch = SignSketch(sizes_of(layers), self.dim, seed, salt=1)

    def start(
        self, batch: int, seq: int, *, per_token: bool = False, device: torch.device | str = "cpu"
    ) -> RapidGradAccumulator:
        return RapidGradAccumulator(self, batch, seq, per_token, torch.device(device))

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta = {
            "name": self.name,
            "dim": self.dim,
            "seed": self.seed,
            "layer_norm": self.layer_norm,
            "scheme": "pad-permute-sign-sumpool",
            "buckets": "randperm(ceil(D/K)*K)[:D] // ceil(D/K)",
        }
        return meta, self.sketch.tensors("bucket")
