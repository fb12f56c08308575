"""``exact``: no compression, g(z) = concat_l vec(G_l) (for tests and small models; K = number of tracked weights)."""

from __future__ import annotations

from typing import Any

import torch

from rapidun.influence.hooks import TrackedLayer
from rapidun.influence.projection import inv_norm, sizes_of


class ExactAccumulator:
    def __init__(self, proj: ExactProjector, batch: int, seq: int, per_token: bool, device: torch.device) -> None:
        self.proj = proj
        shape = (batch, seq, proj.dim) if per_token else (batch, proj.dim)
        self.out = torch.zeros(shape, dtype=torch.float32, device=device)
        self.per_token = per_token

    def add(self, i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        x, delta = x.float(), delta.float()
        lo, hi = self.proj.offsets[i], self.proj.offsets[i + 1]
        G = torch.bmm(delta.transpose(1, 2), x)  # (batch, d_out, d_in)
        if self.proj.layer_norm:
            scale = inv_norm(torch.linalg.matrix_norm(G).square())
        else:
            scale = torch.ones(len(G), device=G.device)
        if self.per_token:
            # Position-wise terms delta_t^T x_t; they sum over t to G.
            Gt = torch.einsum("bto,bti->btoi", delta, x).reshape(x.shape[0], x.shape[1], -1)
            self.out[:, : x.shape[1], lo:hi] = Gt * scale[:, None, None]
        else:
            self.out[:, lo:hi] = G.reshape(len(G), -1) * scale[:, None]

    def finish(self) -> torch.Tensor:
        return self.out


class ExactProjector:
    name = "exact"

    def __init__(self, layers: list[TrackedLayer], dim: int | None = None, seed: int = 0, layer_norm: bool = True):
        sizes = sizes_of(layers)
        self.dim = sum(sizes)
        self.layer_norm = layer_norm
        self.offsets = [0]
        for s in sizes:
            self.offsets.append(self.offsets[-1] + s)

    def start(
        self, batch: int, seq: int, *, per_token: bool = False, device: torch.device | str = "cpu"
    ) -> ExactAccumulator:
        return ExactAccumulator(self, batch, seq, per_token, torch.device(device))

    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {"name": self.name, "dim": self.dim, "layer_norm": self.layer_norm}, {}
