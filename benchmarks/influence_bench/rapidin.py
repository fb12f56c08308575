"""RapidIn's gradient path and the naive per-sample loop, for the speed table.

Both take one row at a time and flatten the full gradient of the tracked weights (D values). RapidIn then
normalises each layer's part, pads to a multiple of K, applies its 40 factorised shuffles (alternately permuting the
rows or the columns of a reshaped vector, with dimensions drawn from the prime factors of the padded length),
multiplies by random signs and sum-pools to K values stored as fp16.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from rapidun.modeling.loss import per_sample_loss


def _flat_grad(model: torch.nn.Module, weights: list[torch.Tensor], one: dict[str, torch.Tensor]) -> torch.Tensor:
    """The flattened gradient (D,) of one row's loss with respect to ``weights``."""
    loss = per_sample_loss(model, one)[0]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, weights)])


def _prime_factors(n: int) -> list[int]:
    """Prime factors of ``n`` with multiplicity, ascending."""
    primes, rest, f = [], n, 2
    while rest > 1:
        while rest % f == 0:
            primes.append(f)
            rest //= f
        f += 1
    return primes


def _shuffles(padded: int, rng: np.random.Generator) -> tuple[list[int], list[torch.Tensor], torch.Tensor]:
    """RapidIn's 40 shuffle dimensions and permutations and its random signs, drawn before timing (RapidIn caches
    them)."""
    primes = _prime_factors(padded)
    dims, perms = [], []
    for _ in range(40):
        x = int(rng.integers(len(primes) // 4, len(primes) // 2 + 1))
        rng.shuffle(primes)
        d = int(np.prod(primes[:x], dtype=np.int64))
        dims.append(d)
        perms.append(torch.from_numpy(rng.permutation(d)))
    signs = torch.from_numpy(rng.integers(0, 2, padded).astype(np.float32) * 2 - 1)
    return dims, perms, signs


def rapidin_variant(
    model: torch.nn.Module, layers: Any, data: dict[str, torch.Tensor], n: int, K: int
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(naive per-sample loop with flattened gradients, RapidIn's path: the same then layer-wise normalisation, its
    40 factorised shuffles, random signs and sum-pooling to K, fp16), each over the first ``n`` rows of ``data``."""
    weights = [m.weight for _, m in layers]
    sizes = [w.numel() for w in weights]
    D = sum(sizes)
    Dp = -(-D // K) * K
    dims, perms, signs = _shuffles(Dp, np.random.default_rng(42))

    def rows() -> Iterator[dict[str, torch.Tensor]]:
        for w in weights:
            w.requires_grad_(True)
        for i in range(n):
            yield {k: v[i : i + 1] for k, v in data.items()}
        for w in weights:
            w.requires_grad_(False)

    def naive() -> None:
        for one in rows():
            _flat_grad(model, weights, one)

    def faithful() -> None:
        for one in rows():
            parts = torch.split(_flat_grad(model, weights, one), sizes)
            vec = torch.zeros(Dp)
            vec[:D] = torch.cat([p / p.norm() for p in parts])
            for j, (d, perm) in enumerate(zip(dims, perms)):
                vec = vec.reshape(d, -1)[perm, :] if j % 2 == 0 else vec.reshape(-1, d)[:, perm]
                vec = vec.reshape(-1)
            (vec * signs).reshape(K, -1).sum(dim=1).to(torch.float16)

    return naive, faithful
