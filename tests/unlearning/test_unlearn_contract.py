"""Contract tests parametrised over the method registry (STYLE.md: the registry is the test matrix)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rapidun.artifacts import read_manifest
from rapidun.data.tokenize import collate
from rapidun.modeling.loss import per_sample_loss, response_token_ce
from rapidun.training.sft import apply_lora
from rapidun.unlearning import METHODS, unlearn
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.objective import WeightState, make_loss_fn

GRADIENT = [name for name, m in METHODS.items() if m.kind == "gradient"]


def test_registry_names_match_files_and_params() -> None:
    for name, method in METHODS.items():
        assert method.params_cls.__module__ == f"rapidun.unlearning.methods.{name}"
        assert method.params_cls.__name__.endswith("Params")
    assert {m.kind for m in METHODS.values()} == {"gradient", "edit", "retrain"}
    assert [n for n, m in METHODS.items() if m.edits_base] == ["fisher_ssd", "fisher_noise"]


@pytest.mark.parametrize("name", list(METHODS))
def test_method_runs_and_changes_the_right_weights(
    name, nano_model, new_model, split, tmp_path: Path, make_config, kwargs_for
) -> None:
    forget, retain = split
    model = new_model()
    base_before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = tmp_path / "out"
    res = unlearn(
        model,
        nano_model.tokenizer,
        forget,
        retain,
        out,
        method=name,
        train=make_config(),
        progress=False,
        **kwargs_for(name, tmp_path, len(forget), len(retain)),
    )
    run = json.loads((out / "run.json").read_text())
    assert read_manifest(out) is not None and run["method"] == name
    kind = METHODS[name].kind
    # Which cost stages ran follows the method's kind (influence comes precomputed or is not used here); a stage
    # that did not run is recorded with zero seconds, so the timings table cannot count it.
    ran = {stage: run["stages"][stage]["ran"] for stage in ("influence", "weights", "training")}
    assert ran == {"influence": False, "weights": kind == "gradient", "training": kind != "edit"}
    assert run["stages"]["influence"]["seconds"] == 0.0
    if kind == "edit":  # Fisher methods edit base weights by design and say so
        assert run["edits_base_weights"] is True and run["base_weights_changed"] is True
        assert (out / "merged" / "config.json").is_file() and not (out / "adapter_config.json").exists()
        changed = [n for n, p in model.named_parameters() if not torch.equal(p, base_before[n])]
        assert changed and all(n.endswith("_proj.weight") for n in changed)
        assert all(torch.isfinite(p).all() for p in model.parameters())
        return
    assert run["losses"] and all(math.isfinite(x) for x in run["losses"])
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    adapter = load_file(str(out / "adapter_model.safetensors"))
    lora_b = [t for k, t in adapter.items() if "lora_B" in k]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # LoRA moved away from its zero init
    # the returned model carries the adapter that was saved (same number of LoRA B tensors)
    assert sum("lora_B" in n for n, _ in res.model.named_parameters()) == len(lora_b)
    if kind == "retrain":  # the recipe's own run record is embedded; its LoRA sits in the returned model
        assert run["retrain"]["steps"] == 2 and any("lora_B" in n for n, _ in res.model.named_parameters())
    if kind == "gradient":
        assert run["edits_base_weights"] is False and run["lora_check"]["base_unchanged"] is True
        base_after = {
            n.replace("base_model.model.", "").replace(".base_layer", ""): p
            for n, p in res.model.named_parameters()
            if "lora_" not in n
        }
        for n, p in base_before.items():
            assert torch.equal(base_after[n], p), n


def _setup_objective(name, nano_model, new_model, split, weights_f, weights_r, make_config):
    forget, retain = split
    cfg = make_config()
    method = METHODS[name]
    params = method.params_cls()
    model = apply_lora(new_model(), cfg.lora)
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, cfg.max_length, cfg.prompt_style)
    state = WeightState(np.asarray(weights_f, dtype=float), np.asarray(weights_r, dtype=float))
    terms = method.terms(cfg, params)
    pad = nano_model.tokenizer.pad_token_id
    return model, data, make_loss_fn(model, data, state, terms, pad), terms, pad


def _lora_grads(model, loss: torch.Tensor) -> list[torch.Tensor]:
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    # lora_B starts at zero, so lora_A's gradient is zero too; shift B so every LoRA tensor gets a gradient
    return list(torch.autograd.grad(loss, params, allow_unused=True))


@pytest.mark.parametrize("name", GRADIENT)
def test_zero_weight_row_contributes_zero_gradient(name, nano_model, new_model, split, make_config) -> None:
    forget, retain = split
    model, data, loss_fn, terms, _ = _setup_objective(
        name, nano_model, new_model, split, [0.0, 1.0], [0.0] * len(retain), make_config
    )
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    for row_id in (0, len(forget)):  # a forget row and a retain row, both with weight zero
        grads = _lora_grads(model, loss_fn([row_id], 0))
        assert all(g is None or torch.count_nonzero(g) == 0 for g in grads)
    grads = _lora_grads(model, loss_fn([1], 0))  # the weighted forget row does move the adapter
    assert any(g is not None and torch.count_nonzero(g) > 0 for g in grads)


@pytest.mark.parametrize("name", GRADIENT)
def test_unit_weights_equal_the_unweighted_objective(name, nano_model, new_model, split, make_config) -> None:
    forget, retain = split
    model, data, loss_fn, terms, pad = _setup_objective(
        name, nano_model, new_model, split, [1.0] * len(forget), [1.0] * len(retain), make_config
    )
    model.eval()

    def ce(example) -> float:
        with torch.no_grad():
            return float(per_sample_loss(model, collate([example], pad))[0])

    def forget_term(example) -> float:  # the unweighted forget loss of the method, written out
        c, beta = terms.ascent_coef, terms.beta
        if terms.forget_loss == "reference_ratio":  # untrained adapter: p_theta = p_ref, so log sigmoid(0) = -log 2
            return c * (2.0 / beta) * math.log(2.0)
        if terms.forget_loss == "length_normalised":  # -(beta/|y|) log p = beta * token-mean CE
            return c * (2.0 / beta) * math.log1p(math.exp(-(beta * ce(example) - terms.gamma)))
        if terms.forget_loss == "likelihood_weighted":  # -c mean_t p_t^beta CE_t, from the per-token CE
            with torch.no_grad():
                tok, mask = response_token_ce(model, collate([example], pad))
            return -c * float((torch.exp(-beta * tok) * tok).sum() / mask.sum())
        return -c * ce(example)

    ids = [0, 1, len(forget), len(forget) + 1]
    expected = 0.0
    for i in ids[:2]:
        clean = data.forget_clean[i]
        expected += forget_term(data.forget[i]) + (0.5 * ce(clean) if terms.clean_term and clean is not None else 0.0)
    if terms.retain_term:
        expected += ce(data.retain[0]) + ce(data.retain[1])
    with torch.no_grad():
        assert float(loss_fn(ids, 0)) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_ga_objective_is_negative_ce_without_clean_or_retain(nano_model, new_model, split, make_config) -> None:
    forget, retain = split
    model, data, loss_fn, terms, pad = _setup_objective(
        "ga", nano_model, new_model, split, [1.0, 1.0], [1.0] * len(retain), make_config
    )
    assert not terms.clean_term and not terms.retain_term
    model.eval()
    with torch.no_grad():
        ce0 = float(per_sample_loss(model, collate([data.forget[0]], pad))[0])
        assert float(loss_fn([0], 0)) == pytest.approx(-ce0, rel=1e-6)
        assert float(loss_fn([len(forget)], 0)) == 0.0  # a retain id contributes nothing to GA


def test_bounded_ascent_caps_the_ascent_term(nano_model, new_model, split, make_config) -> None:
    forget, retain = split
    cfg = make_config(bounded_ascent=0.5)
    model = apply_lora(new_model(), cfg.lora)
    data = encode_unlearn_data(forget, retain, nano_model.tokenizer, cfg.max_length, cfg.prompt_style)
    terms = METHODS["ga"].terms(cfg, METHODS["ga"].params_cls())
    loss_fn = make_loss_fn(
        model, data, WeightState(np.ones(2), np.ones(len(retain))), terms, nano_model.tokenizer.pad_token_id
    )
    loss = loss_fn([0], 0)  # the random model's CE is far above 0.5, so the term is -0.5 with no gradient
    assert float(loss) == pytest.approx(-0.5)
    grads = _lora_grads(model, loss)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in grads)


@pytest.mark.parametrize("name", GRADIENT)
def test_accumulation_1x4_equals_4x1(
    name, nano_model, new_model, split, tmp_path: Path, make_config, kwargs_for
) -> None:
    forget, retain = split
    adapters = []
    for micro in (0, 1):
        out = tmp_path / f"micro{micro}"
        unlearn(
            new_model(),
            nano_model.tokenizer,
            forget,
            retain,
            out,
            method=name,
            train=make_config(batch_size=4, micro_batch_size=micro),
            progress=False,
            **kwargs_for(name, tmp_path, len(forget), len(retain)),
        )
        adapters.append(load_file(str(out / "adapter_model.safetensors")))
    for key, tensor in adapters[0].items():
        torch.testing.assert_close(adapters[1][key], tensor, atol=2e-6, rtol=1e-4)


def test_unchanged_lora_is_an_error(nano_model, new_model, make_config) -> None:
    from rapidun.errors import RapidunError
    from rapidun.unlearning.outputs import check_lora_trained, frozen_checksum

    model = apply_lora(new_model(), make_config().lora)
    with pytest.raises(RapidunError, match="no LoRA weight changed"):
        check_lora_trained(model, frozen_checksum(model))


def test_gradient_checkpointing_still_trains_lora(nano_model, new_model, split, tmp_path: Path, make_config) -> None:
    forget, retain = split
    res = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "o",
        method="graddiff",
        train=make_config(gradient_checkpointing=True),
        progress=False,
    )
    check = res.run["lora_check"]
    assert check["changed"] == check["lora_b_tensors"] > 0 and check["base_unchanged"]
