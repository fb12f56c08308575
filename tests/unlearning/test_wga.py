"""WGA: the token-weighted ascent against values computed by hand from the per-token CE, its gradient (the token
weights are constants), the retain term, an end-to-end run and bad parameters."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from rapidun.data.tokenize import collate
from rapidun.errors import RapidunError
from rapidun.modeling.loss import response_token_ce
from rapidun.training.sft import apply_lora
from rapidun.unlearning import METHODS, unlearn
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.methods.wga import WGAParams
from rapidun.unlearning.objective import WeightState, make_loss_fn


def _setup(nano_model, split, make_config, beta: float):
    forget, retain = split
    cfg = make_config()
    model = apply_lora(copy.deepcopy(nano_model.model), cfg.lora)
    model.eval()
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, cfg.max_length, cfg.prompt_style)
    terms = METHODS["wga"].terms(cfg, WGAParams(beta=beta))
    state = WeightState(np.array([2.0, 0.5] + [1.0] * (data.n_forget - 2)), np.ones(data.n_retain))
    return model, data, terms, state, nano_model.tokenizer.pad_token_id


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_two_forget_rows_match_the_hand_computed_loss(nano_model, split, make_config, beta: float) -> None:
    model, data, terms, state, pad = _setup(nano_model, split, make_config, beta)
    with torch.no_grad():
        ce, mask = response_token_ce(model, collate([data.forget[0], data.forget[1]], pad))
    expected = 0.0
    for i, w in enumerate((2.0, 0.5)):  # by hand: -w * mean over response tokens of exp(-CE)^beta * CE
        tokens = [float(c) for c, m in zip(ce[i], mask[i], strict=True) if m]
        expected += -w * sum(math.exp(-c) ** beta * c for c in tokens) / len(tokens)
    loss = make_loss_fn(model, data, state, terms, pad)([0, 1], 0)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_token_weights_are_constants_in_the_gradient(nano_model, split, make_config) -> None:
    # d/dtheta of -(p^beta)_sg CE = -p^beta dCE: equal to the gradient of the same sum with weights fed as numbers.
    model, data, terms, state, pad = _setup(nano_model, split, make_config, 1.0)
    loss = make_loss_fn(model, data, state, terms, pad)([0], 0)
    grads = torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])
    ce, mask = response_token_ce(model, collate([data.forget[0]], pad))
    weights = torch.exp(-ce.detach())
    manual = -2.0 * (weights * ce).sum() / mask.sum()
    ref = torch.autograd.grad(manual, [p for p in model.parameters() if p.requires_grad])
    for a, b in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_retain_rows_keep_the_plain_ce(nano_model, split, make_config) -> None:
    model, data, terms, state, pad = _setup(nano_model, split, make_config, 1.0)
    j = data.n_forget  # the first retain row
    with torch.no_grad():
        ce, mask = response_token_ce(model, collate([data.retain[0]], pad))
    loss = make_loss_fn(model, data, state, terms, pad)([j], 0)
    assert float(loss.detach()) == pytest.approx(float(ce.sum() / mask.sum()), rel=1e-5)


def test_wga_runs_end_to_end_and_moves_the_adapter(nano_model, split, tmp_path, make_config) -> None:
    forget, retain = split
    unlearn(copy.deepcopy(nano_model.model), nano_model.tokenizer, forget, retain, tmp_path / "wga",
            method="wga", train=make_config(), progress=False)  # fmt: skip
    run = json.loads((tmp_path / "wga" / "run.json").read_text())
    assert run["objective"]["forget_loss"] == "likelihood_weighted" and run["objective"]["beta"] == 1.0
    assert run["losses"] and all(math.isfinite(x) for x in run["losses"])
    assert run["lora_check"]["changed"] > 0 and run["lora_check"]["base_unchanged"]


@pytest.mark.parametrize("bad", [{"beta": 0.0}, {"beta": -1.0}, {"forget_coef": 0.0}])
def test_bad_parameters_are_refused(bad) -> None:
    with pytest.raises(RapidunError, match="wga parameter"):
        WGAParams(**bad)
