"""NPO and SimNPO: the losses against hand-computed values, their wiring into the objective, end-to-end runs and
bad parameters."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rapidun.cli.main import main
from rapidun.data.rows import write_rows
from rapidun.data.tokenize import collate
from rapidun.errors import RapidunError
from rapidun.modeling.loss import response_nll
from rapidun.training.sft import apply_lora
from rapidun.unlearning import METHODS, unlearn
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.methods.npo import NPOParams
from rapidun.unlearning.methods.simnpo import SimNPOParams
from rapidun.unlearning.objective import WeightState, make_loss_fn, npo_loss, simnpo_loss

# Two forget rows, written down: summed response log-probabilities under the trained and the reference model, and
# the response lengths.
LOGP = [-12.0, -3.0]
REF_LOGP = [-10.0, -4.0]
LENGTH = [6, 2]


def _neg_log_sigmoid(x: float) -> float:
    return math.log(1.0 + math.exp(-x))


def test_npo_loss_matches_hand_computed_values() -> None:
    # beta = 0.1. Row 0: log ratio -2, -beta * ratio = 0.2; row 1: log ratio +1, -beta * ratio = -0.1.
    expected = [(2 / 0.1) * _neg_log_sigmoid(0.2), (2 / 0.1) * _neg_log_sigmoid(-0.1)]
    assert expected[0] == pytest.approx(20 * 0.598138869, rel=1e-8)  # log(1 + e^-0.2), by hand
    got = npo_loss(torch.tensor(LOGP, dtype=torch.float64), torch.tensor(REF_LOGP, dtype=torch.float64), 0.1)
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    # The row the model already finds less likely than the reference did is penalised less.
    assert got[0] < got[1]


def test_simnpo_loss_matches_hand_computed_values() -> None:
    # beta = 2.5, gamma = 0.5. Row 0: -(beta/|y|) logp - gamma = 2.5 * 12 / 6 - 0.5 = 4.5; row 1: 2.5 * 3 / 2 - 0.5
    # = 3.25.
    expected = [(2 / 2.5) * _neg_log_sigmoid(4.5), (2 / 2.5) * _neg_log_sigmoid(3.25)]
    got = simnpo_loss(
        torch.tensor(LOGP, dtype=torch.float64), torch.tensor(LENGTH, dtype=torch.float64), beta=2.5, gamma=0.5
    )
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    assert got[0] == pytest.approx(0.8 * 0.011048, rel=1e-4)  # log(1 + e^-4.5) = 0.011048, by hand


def _objective(name: str, nano_model, split, make_config, params=None, forget_w=(1.0, 1.0)):
    forget, retain = split
    cfg = make_config()
    model = apply_lora(copy.deepcopy(nano_model.model), cfg.lora)
    model.eval()
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, cfg.max_length, cfg.prompt_style)
    method = METHODS[name]
    terms = method.terms(cfg, params or method.params_cls())
    state = WeightState(np.asarray(forget_w, dtype=float), np.ones(len(retain)))
    return model, data, terms, state, nano_model.tokenizer.pad_token_id


def test_npo_objective_uses_summed_log_probs_and_the_given_reference(nano_model, split, make_config) -> None:
    model, data, terms, state, pad = _objective("npo", nano_model, split, make_config, forget_w=(2.0, 0.5))
    with torch.no_grad():
        nll, _ = response_nll(model, collate([data.forget[0], data.forget[1]], pad))
    reference = nll + torch.tensor([1.5, -0.7])  # the reference found row 0 less likely, row 1 more likely
    loss_fn = make_loss_fn(model, data, state, terms, pad, reference)
    expected = 0.0
    for i, w in enumerate((2.0, 0.5)):
        ratio = -float(nll[i]) + float(reference[i])  # log p_theta - log p_ref
        expected += w * (2 / 0.1) * _neg_log_sigmoid(-0.1 * ratio)
    with torch.no_grad():
        assert float(loss_fn([0, 1], 0)) == pytest.approx(expected, rel=1e-5)


def test_npo_reference_defaults_to_the_model_with_its_adapter_disabled(nano_model, split, make_config) -> None:
    model, data, terms, state, pad = _objective("npo", nano_model, split, make_config)
    loss_fn = make_loss_fn(model, data, state, terms, pad)
    with torch.no_grad():
        for n, p in model.named_parameters():  # move the adapter, so theta and the reference differ
            if "lora_B" in n:
                p.normal_(0, 0.05)
        nll, _ = response_nll(model, collate([data.forget[0]], pad))
        with model.disable_adapter():
            ref, _ = response_nll(model, collate([data.forget[0]], pad))
        assert float(nll[0]) != pytest.approx(float(ref[0]), abs=1e-4)
        ratio = float(ref[0]) - float(nll[0])
        assert float(loss_fn([0], 0)) == pytest.approx((2 / 0.1) * _neg_log_sigmoid(-0.1 * ratio), rel=1e-5)


def test_simnpo_objective_is_length_normalised_with_margin(nano_model, split, make_config) -> None:
    params = SimNPOParams(beta=2.0, gamma=0.3, forget_coef=0.5)
    model, data, terms, state, pad = _objective("simnpo", nano_model, split, make_config, params, (1.0, 3.0))
    with torch.no_grad():
        nll, n_tok = response_nll(model, collate([data.forget[1]], pad))
        x = 2.0 * float(nll[0]) / float(n_tok[0]) - 0.3  # -(beta/|y|) log p - gamma
        loss_fn = make_loss_fn(model, data, state, terms, pad)
        assert float(loss_fn([1], 0)) == pytest.approx(0.5 * 3.0 * (2 / 2.0) * _neg_log_sigmoid(x), rel=1e-5)


@pytest.mark.parametrize("name", ["npo", "simnpo"])
def test_unlearn_runs_end_to_end(name, nano_model, split, tmp_path: Path, make_config) -> None:
    forget, retain = split
    res = unlearn(
        copy.deepcopy(nano_model.model),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "o",
        method=name,
        train=make_config(),
        progress=False,
    )
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert (
        run["objective"]["forget_loss"] == {"npo": "reference_ratio", "simnpo": "length_normalised"}[name]
        and not run["objective"]["clean_term"]
    )
    assert run["objective"]["beta"] == (0.1 if name == "npo" else 2.5)
    assert run["losses"] and all(math.isfinite(x) for x in run["losses"])
    assert run["lora_check"]["changed"] > 0 and run["lora_check"]["base_unchanged"]
    # only npo evaluates the frozen reference, once per forget row, before training
    assert run["stages"].get("reference", {}).get("ran", False) == (name == "npo")
    assert len(run.get("reference_nll", [])) == (len(forget) if name == "npo" else 0)
    assert res.model is not None


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: NPOParams(beta=0.0), "npo parameter beta must be > 0"),
        (lambda: NPOParams(beta=-0.1), "npo parameter beta must be > 0"),
        (lambda: SimNPOParams(beta=0.0), "simnpo parameter beta must be > 0"),
        (lambda: SimNPOParams(gamma=math.inf), "simnpo parameter gamma"),
    ],
)
def test_bad_parameters_raise(make, needle) -> None:
    with pytest.raises(RapidunError, match=needle):
        make()


def test_cli_beta_zero_exits_2(split, tmp_path: Path, capsys) -> None:
    forget, retain = split
    write_rows(tmp_path / "f.jsonl", forget)
    write_rows(tmp_path / "r.jsonl", retain)
    argv = ["unlearn", "--model", "nano", "--forget", str(tmp_path / "f.jsonl"), "--retain", str(tmp_path / "r.jsonl")]
    assert main([*argv, "--out", str(tmp_path / "o"), "--method", "npo", "--param", "beta=0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "beta must be > 0" in err[0], err
