"""Method internals checked by equivalence: diagonal Fisher, SSD dampening, Fisher noise, LoReUn refreshes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rapidun.data.tokenize import collate
from rapidun.modeling.loss import per_sample_loss
from rapidun.unlearning import FisherNoiseParams, LoreunDynamicParams, unlearn
from rapidun.unlearning.fisher_info import diagonal_fisher, target_weights
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.methods.fisher_noise import add_noise
from rapidun.unlearning.methods.fisher_ssd import dampen


def test_diagonal_fisher_is_the_mean_squared_per_sample_gradient(nano_model, new_model, split) -> None:
    forget, retain = split
    model = new_model()
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, 64, "alpaca")
    named = target_weights(model, ("q_proj", "down_proj"))
    assert len(named) == 4  # 2 layers x 2 targets
    params = [p for _, p in named]
    pad = nano_model.tokenizer.pad_token_id
    fisher = diagonal_fisher(model, data.retain, params, pad, progress=False)
    expected = [torch.zeros_like(p) for p in params]
    for e in data.retain:
        model.zero_grad()
        per_sample_loss(model, collate([e], pad)).sum().backward()
        for acc, p in zip(expected, params, strict=True):
            acc += p.grad.detach() ** 2
    for f, acc in zip(fisher, expected, strict=True):
        torch.testing.assert_close(f, acc / len(data.retain), rtol=1e-4, atol=1e-10)
    assert all(p.requires_grad for p in model.parameters())  # flags restored


def test_ssd_dampens_only_where_forget_fisher_dominates() -> None:
    w = torch.ones(4)
    f_forget = torch.tensor([1.0, 20.0, 100.0, 0.0])
    f_retain = torch.tensor([1.0, 1.0, 5.0, 1.0])
    n = dampen(w, f_forget, f_retain, alpha=10.0, lam=1.0)
    # selected: 20 > 10 x 1 and 100 > 10 x 5; factor min(1, F_r / F_f)
    torch.testing.assert_close(w, torch.tensor([1.0, 1 / 20, 5 / 100, 1.0]))
    assert n == 2


def test_fisher_noise_std_formula_and_cap() -> None:
    torch.manual_seed(0)
    w = torch.zeros(20000) + 0.5  # rms 0.5
    f_retain = torch.cat([torch.full((10000,), 1.0), torch.full((10000,), 1e-12)])
    params = FisherNoiseParams(sigma=1e-2, eps=1e-8, max_rel_std=0.1)
    add_noise(w, f_retain, params, torch.Generator().manual_seed(0))
    noise = w - 0.5
    assert float(noise[:10000].std()) == pytest.approx(1e-2 / (1.0 + 1e-8) ** 0.5, rel=0.05)  # sigma / sqrt(F + eps)
    assert float(noise[10000:].std()) == pytest.approx(0.1 * 0.5, rel=0.05)  # capped at max_rel_std x rms(W)


def test_loreun_dynamic_refreshes_on_schedule(nano_model, new_model, split, tmp_path, make_config) -> None:
    forget, retain = split
    res = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "o",
        method="loreun_dynamic",
        params=LoreunDynamicParams(refresh_every=3),
        train=make_config(),
        progress=False,
    )
    assert res.run["weights"]["refreshed_at_steps"] == [0, 3, 6]  # 8 steps
    import json

    history = json.loads((tmp_path / "o" / "loreun_weights.json").read_text())
    assert sorted(history, key=int) == ["0", "3", "6"]
    for w in history.values():
        assert np.mean(w) == pytest.approx(1.0)
    assert history["0"] != history["6"]  # the model changed, so did its losses and weights
