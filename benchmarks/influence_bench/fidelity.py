"""Fidelity of projected influence scores against exact ones.

Exact scores are layer-normalised: S[i, j] = sum_l <G_l(i)/|G_l(i)|, G_l(j)/|G_l(j)|> with G_l the per-sample
weight gradient of tracked layer l (docs/method.md section 2). Projected scores are inner products of the cached
fp16 vectors. Compared over off-diagonal pairs: Pearson, mean per-query Spearman, top-10 overlap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rapidun.influence.gradients import project_batch
from rapidun.influence.hooks import backward_sum, capture, frozen
from rapidun.influence.projector_registry import make_projector
from rapidun.modeling.loss import per_sample_loss


def exact_gram(model: torch.nn.Module, layers: Any, data: dict[str, torch.Tensor]) -> torch.Tensor:
    """Exact layer-normalised scores S = sum_l Gn_l Gn_l^T for every pair of ``data`` rows (one batch)."""
    n = len(data["input_ids"])
    S = torch.zeros(n, n, dtype=torch.float64, device=data["input_ids"].device)

    def add(i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        G = torch.bmm(delta.transpose(1, 2), x).reshape(n, -1)
        G = G / G.norm(dim=1, keepdim=True).clamp_min(1e-30)
        S.add_((G @ G.T).double())

    with frozen(model), torch.enable_grad(), capture(layers, add):
        backward_sum(per_sample_loss(model, data))
    return S


def _ranks(x: torch.Tensor) -> torch.Tensor:
    return x.argsort(-1).argsort(-1).double()


def fidelity(approx: torch.Tensor, exact: torch.Tensor) -> dict:
    """Pearson over off-diagonal pairs, mean per-query Spearman and top-10 overlap (self excluded)."""
    n = len(exact)
    off = ~torch.eye(n, dtype=torch.bool)
    a, e = approx.double()[off].view(n, n - 1), exact.double()[off].view(n, n - 1)
    pearson = torch.corrcoef(torch.stack([a.reshape(-1), e.reshape(-1)]))[0, 1].item()
    spear = torch.stack([torch.corrcoef(torch.stack([_ranks(a[i]), _ranks(e[i])]))[0, 1] for i in range(n)])
    k = min(10, n - 1)
    top = [len(set(a[i].topk(k).indices.tolist()) & set(e[i].topk(k).indices.tolist())) / k for i in range(n)]
    return {"pearson": pearson, "spearman": spear.mean().item(), "top10": float(np.mean(top))}


def projector_fidelity(
    model: torch.nn.Module, layers: Any, tracked: Any, data: dict[str, torch.Tensor], n: int, batch: int
) -> dict:
    """Fidelity of each projector at K = 65,536 and 4,096 (fp16 storage, as cached) against the exact
    layer-normalised Gram matrix of the first ``n`` samples (computed on the CPU)."""
    data = {k: v[:n] for k, v in data.items()}
    exact = exact_gram(model, layers, data).cpu()
    out = {}
    for name in ("kronecker", "rapidgrad"):
        for dim in (65536, 4096):
            proj = make_projector(name, tracked, dim=dim, seed=0)
            with frozen(model):
                parts = [
                    project_batch(model, layers, proj, {k: v[s : s + batch] for k, v in data.items()})
                    for s in range(0, n, batch)
                ]
            g = torch.cat(parts).to(torch.float16).float().cpu()
            out[f"{name} K={dim}"] = fidelity(g @ g.T, exact)
    return out
