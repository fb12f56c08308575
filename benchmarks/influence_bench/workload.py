"""The benchmark's workload: sequences from a learnable random language, and a brief training run so that the
gradients being extracted carry signal (a randomly initialised model's gradients are nearly isotropic)."""

from __future__ import annotations

import torch

from rapidun.modeling.loss import per_sample_loss


def make_data(vocab: int, n: int, seq: int, seed: int, prompt: int = 16) -> dict[str, torch.Tensor]:
    """Sequences from a sparse random Markov chain (4 successors per token): learnable, so gradients carry signal.
    The first ``prompt`` positions are masked out of the loss (labels -100), as a prompt is."""
    g = torch.Generator().manual_seed(seed)
    succ = torch.randint(3, vocab, (vocab, 4), generator=g)
    ids = torch.empty(n, seq, dtype=torch.long)
    ids[:, 0] = torch.randint(3, vocab, (n,), generator=g)
    for t in range(1, seq):
        ids[:, t] = succ[ids[:, t - 1], torch.randint(0, 4, (n,), generator=g)]
    labels = ids.clone()
    labels[:, :prompt] = -100
    return {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}


def train_briefly(
    model: torch.nn.Module, data: dict[str, torch.Tensor], steps: int, batch: int, lr: float = 2e-3
) -> None:
    """``steps`` AdamW steps over consecutive (wrapping) batches of ``data``; leaves the model in eval mode."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    n = len(data["input_ids"])
    for step in range(steps):
        idx = torch.arange(step * batch, (step + 1) * batch) % n
        loss = per_sample_loss(model, {k: v[idx] for k, v in data.items()}).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()
