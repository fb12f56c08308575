"""Batch > 1 unlearning (docs/method.md section 4): padding never changes a row's loss or gradient.

A padded batch of rows of different lengths must give the gradient of the sum of the rows taken one by one (each
row's loss is the token mean over its own response tokens; padding is excluded from the sum and the count), and
each row's weight multiplies its own loss. fp32 on the nano model, rows of 107-114 tokens: tolerance rtol 1e-5 /
atol 1e-6 on gradients whose largest entries are 0.4-2.4 (measured: 1.5e-7 to 6e-7, float summation order over
the padded positions' zeros and the batched matmuls).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from rapidun.data.tokenize import collate
from rapidun.modeling.loss import per_sample_loss
from rapidun.training.sft import apply_lora
from rapidun.unlearning import METHODS
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.objective import WeightState, make_loss_fn

FORGET_W, RETAIN_W = [0.5, 2.0], [1.5, 0.25, 1.0, 3.0, 0.75, 1.25]


def _setup(name: str, nano_model: Any, new_model: Any, split: Any, make_config: Any) -> tuple[Any, Any, Any, Any]:
    forget, retain = split
    cfg = make_config(max_length=256)  # the whole alpaca prompt: rows keep their own lengths
    method = METHODS[name]
    model = apply_lora(new_model(), cfg.lora)
    with torch.no_grad():  # lora_B starts at zero (then lora_A has no gradient): give every LoRA tensor one
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, cfg.max_length, cfg.prompt_style)
    state = WeightState(np.asarray(FORGET_W[: len(forget)]), np.asarray(RETAIN_W[: len(retain)]))
    terms = method.terms(cfg, method.params_cls())
    loss_fn = make_loss_fn(model, data, state, terms, nano_model.tokenizer.pad_token_id)
    return model, data, loss_fn, terms


def _grads(model: Any, loss: torch.Tensor) -> list[torch.Tensor]:
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    return [g if g is not None else torch.zeros_like(p) for g, p in zip(torch.autograd.grad(loss, params), params)]


@pytest.mark.parametrize("name", ["uniform", "npo", "simnpo"])
def test_padded_batch_of_four_equals_rows_one_by_one(name, nano_model, new_model, split, make_config) -> None:
    model, data, loss_fn, _ = _setup(name, nano_model, new_model, split, make_config)
    n_f = data.n_forget
    ids = [0, 1, n_f, n_f + 3]  # two forget rows (poisoned + clean response each) and two retain rows
    lengths = {len(data.forget[0].input_ids), len(data.forget[1].input_ids)}
    lengths |= {len(data.retain[0].input_ids), len(data.retain[3].input_ids)}
    assert len(lengths) >= 3  # the batch really is padded
    batched = _grads(model, loss_fn(ids, 0))
    single = [_grads(model, loss_fn([k], 0)) for k in ids]
    for i, g in enumerate(batched):
        expected = sum(s[i] for s in single)
        assert isinstance(expected, torch.Tensor) and expected.abs().max() > 1e-4  # a gradient that can disagree
        torch.testing.assert_close(g, expected, rtol=1e-5, atol=1e-6)


def test_row_weights_multiply_each_rows_own_token_mean(nano_model, new_model, split, make_config) -> None:
    """uniform (graddiff) batch loss, with the per-row losses computed independently (unpadded, ``per_sample_loss``):
    sum_k w_k l_k with l = -CE(poisoned) + 0.5 CE(clean) for a forget row and CE for a retain row."""
    model, data, loss_fn, terms = _setup("uniform", nano_model, new_model, split, make_config)
    pad = nano_model.tokenizer.pad_token_id
    n_f = data.n_forget
    ids = [0, 1, n_f, n_f + 3]

    def ce(example: Any) -> torch.Tensor:
        return per_sample_loss(model, collate([example], pad))[0]

    expected = torch.zeros(())
    for k in ids:
        if k < n_f:
            clean = data.forget_clean[k]
            assert clean is not None
            expected = expected + FORGET_W[k] * (-terms.ascent_coef * ce(data.forget[k]) + terms.clean_coef * ce(clean))
        else:
            expected = expected + RETAIN_W[k - n_f] * ce(data.retain[k - n_f])
    batched = loss_fn(ids, 0)
    assert float(batched.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    for g, e in zip(_grads(model, batched), _grads(model, expected)):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)
