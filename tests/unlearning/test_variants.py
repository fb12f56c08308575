"""Influence-guided variants (docs/method.md section 5): how weights are applied (sampled, batch-normalised),
dynamic refreshes of influence weights, and the new LoReUn / Fisher SSD options (defaults unchanged)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rapidun.artifacts import atomic_write_jsonl
from rapidun.data.tokenize import collate
from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.modeling.loss import per_sample_loss
from rapidun.training.sft import apply_lora
from rapidun.unlearning import METHODS, unlearn
from rapidun.unlearning.gradient_run import build_schedule
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.kinds import MethodContext, MethodWeights
from rapidun.unlearning.loreun_weights import effective_tau, loss_weights
from rapidun.unlearning.methods.fisher_ssd import FisherSsdParams
from rapidun.unlearning.methods.loreun import LoreunParams
from rapidun.unlearning.methods.rapidun_dynamic import RapidunDynamicParams
from rapidun.unlearning.objective import WeightState, make_loss_fn
from rapidun.unlearning.sampling import mixture_schedule


def _ctx(n_forget: int, n_retain: int, cfg) -> MethodContext:
    data = SimpleNamespace(n_forget=n_forget, n_retain=n_retain)
    return MethodContext(None, None, data, cfg, Path("."), None)  # type: ignore[arg-type]


def _weights(forget, retain) -> MethodWeights:
    return MethodWeights(np.asarray(forget, dtype=float), np.asarray(retain, dtype=float), "test")


def test_sampled_with_uniform_weights_draws_the_unweighted_schedule(make_config) -> None:
    ctx = _ctx(40, 120, make_config(epochs=2.0))
    unweighted = build_schedule(METHODS["uniform"], METHODS["uniform"].params_cls(), ctx)
    sampled = METHODS["rapidun_sampled"]
    same = build_schedule(sampled, sampled.params_cls(), ctx, _weights([0.7] * 40, [1.3] * 120))
    assert same == unweighted and len(same) == 320
    skewed = build_schedule(sampled, sampled.params_cls(), ctx, _weights([1.0] * 39 + [40.0], [1.0] * 120))
    assert skewed != unweighted


def test_weighted_draws_follow_the_weights() -> None:
    only_second = mixture_schedule(2, 0, draws=50, forget_only=True, forget_p=[0.0, 1.0])
    assert {i for b in only_second for i in b} == {1}  # a zero-weight row is never drawn
    draws = [i for b in mixture_schedule(2, 0, draws=4000, forget_only=True, forget_p=[0.75, 0.25]) for i in b]
    assert 0.72 < draws.count(0) / len(draws) < 0.78
    mixed = [i for b in mixture_schedule(2, 4, draws=4000, retain_p=[0.0, 0.0, 0.0, 1.0]) for i in b]
    assert {i for i in mixed if i >= 2} == {5} and {i for i in mixed if i < 2} == {0, 1}


def test_sampled_run_with_unit_weights_equals_uniform(
    nano_model, new_model, split, tmp_path, make_config, weight_files
):
    forget, retain = split
    ones = weight_files(tmp_path / "w", [1.0] * len(forget), [1.0] * len(retain))
    adapters = {}
    for name in ("uniform", "rapidun_sampled"):
        out = tmp_path / name
        unlearn(new_model(), nano_model.tokenizer, forget, retain, out, method=name, train=make_config(),
                weights_dir=ones, progress=False)  # fmt: skip
        adapters[name] = load_file(str(out / "adapter_model.safetensors"))
    for key, value in adapters["uniform"].items():
        assert torch.equal(value, adapters["rapidun_sampled"][key]), key


def test_batch_normalised_weights_are_normalised_over_the_whole_batch(nano_model, new_model, split, make_config):
    forget, retain = split
    cfg = make_config()
    tok = nano_model.tokenizer
    model = apply_lora(new_model(), cfg.lora)
    model.eval()
    data = encode_unlearn_data(forget, retain, tok, cfg.max_length, cfg.prompt_style)
    n_f = len(forget)
    batch = [0, 1, n_f, n_f + 1]
    state = WeightState(np.array([3.0, 1.0]), np.array([4.0, 2.0, 1, 1, 1, 1]), batches=[batch])
    terms = METHODS["rapidun_batch_normalised"].terms(cfg, None)
    loss_fn = make_loss_fn(model, data, state, terms, tok.pad_token_id)

    def ce(example) -> float:
        return float(per_sample_loss(model, collate([example], tok.pad_token_id))[0])

    # forget mean 2 -> coefficients 1.5, 0.5; retain mean 3 -> 4/3, 2/3
    expected = sum(w * (-ce(data.forget[i]) + 0.5 * ce(data.forget_clean[i])) for i, w in ((0, 1.5), (1, 0.5)))
    expected += 4 / 3 * ce(data.retain[0]) + 2 / 3 * ce(data.retain[1])
    with torch.no_grad():
        assert float(loss_fn(batch, 0)) == pytest.approx(expected, rel=1e-5)
        # micro-batches of the same step use the whole batch's means
        split_sum = float(loss_fn([0], 0)) + float(loss_fn([1, n_f, n_f + 1], 0))
    assert split_sum == pytest.approx(expected, rel=1e-5)


def test_batch_normalised_schedule_has_batches_of_eight(make_config) -> None:
    method = METHODS["rapidun_batch_normalised"]
    schedule = build_schedule(
        method, method.params_cls(), _ctx(4, 12, make_config(epochs=2.0)), _weights([1] * 4, [1] * 12)
    )
    assert [len(b) for b in schedule] == [8] * 4
    with pytest.raises(RapidunError, match="min_batch"):
        method.params_cls(min_batch=1)


def test_dynamic_refreshes_influence_and_records_its_cost(nano_model, new_model, split, tmp_path, make_config):
    forget, retain = split
    out = tmp_path / "dyn"
    params = RapidunDynamicParams(refresh_every=3, influence=InfluenceConfig(projector="exact", rapidin_json=False))
    unlearn(new_model(), nano_model.tokenizer, forget, retain, out, method="rapidun_dynamic", params=params,
            train=make_config(lr=5e-3), progress=False)  # fmt: skip
    run = json.loads((out / "run.json").read_text())
    assert run["steps"] == 8
    assert run["weights"]["refreshed_at_steps"] == [0, 3, 6]
    assert len(run["weights"]["refresh_seconds"]) == 3 and all(s > 0 for s in run["weights"]["refresh_seconds"])
    history = json.loads((out / "rapidun_weights.json").read_text())
    assert sorted(history, key=int) == ["0", "3", "6"]
    assert history["3"] != history["0"]  # recomputed on the trained adapter, not copied
    assert (out / "influence_refresh" / "step3" / "scores.safetensors").is_file()
    assert not (out / "influence_refresh" / "step3" / "cache").exists()
    with pytest.raises(RapidunError, match="refresh_every"):
        RapidunDynamicParams(refresh_every=0)


def test_loreun_tau_on_the_loss_scale() -> None:
    losses = np.array([1.0, 2.0, 4.0])  # median 2, absolute deviations 1, 0, 2 -> MAD 1
    assert effective_tau(losses, 0.5, "loss_mad") == pytest.approx(0.5 * 1.4826)
    assert effective_tau(losses, 0.5, "absolute") == 0.5
    assert effective_tau(np.array([1.0, 1.0, 3.0]), 1.0, "loss_mad") == pytest.approx(np.std([1.0, 1.0, 3.0]))
    assert effective_tau(np.full(3, 2.0), 1.0, "loss_mad") == float("inf")
    np.testing.assert_array_equal(loss_weights(np.full(3, 2.0), float("inf")), np.ones(3))
    assert LoreunParams().tau_scale == "loss_mad"  # the fair setting is the default
    with pytest.raises(RapidunError, match="tau_scale"):
        LoreunParams(tau_scale="relative")


def _ssd(nano_model, new_model, split, tmp_path, make_config, name, **kw):
    forget, retain = split
    model = new_model()
    params = FisherSsdParams(alpha=1.0, **kw)
    unlearn(model, nano_model.tokenizer, forget, retain, tmp_path / name, method="fisher_ssd", params=params,
            train=make_config(), progress=False)  # fmt: skip
    run = json.loads((tmp_path / name / "run.json").read_text())
    return {n: p.detach().clone() for n, p in model.named_parameters()}, run["edit"]["importance_data"]


def test_fisher_ssd_importance_data(nano_model, new_model, split, tmp_path, make_config) -> None:
    forget, retain = split
    base, used = _ssd(nano_model, new_model, split, tmp_path, make_config, "retain", importance="retain")
    assert used == "retain set"
    fallback, used = _ssd(nano_model, new_model, split, tmp_path, make_config, "auto")  # default, no train_file
    assert used == "retain set (fallback: no train_file given)" and FisherSsdParams().importance == "auto"
    assert all(torch.equal(fallback[n], p) for n, p in base.items())
    train_file = tmp_path / "train.jsonl"
    atomic_write_jsonl(train_file, [r.to_dict() for r in retain])  # training data = the retain rows: same edit
    same, used = _ssd(nano_model, new_model, split, tmp_path, make_config, "train", importance="train",
                      train_file=str(train_file))  # fmt: skip
    assert used.startswith("training data: 6 rows")
    assert all(torch.equal(same[n], p) for n, p in base.items())
    auto, used = _ssd(nano_model, new_model, split, tmp_path, make_config, "auto_train", train_file=str(train_file))
    assert used.startswith("training data: 6 rows")  # auto reads the training data when it is given
    union, used = _ssd(nano_model, new_model, split, tmp_path, make_config, "union", importance="forget_retain")
    assert used.startswith("forget + retain") and any(not torch.equal(union[n], p) for n, p in base.items())
    with pytest.raises(RapidunError, match="train_file"):
        FisherSsdParams(importance="train")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--method", "loreun", "--param", "tau_scale=relative"), "tau_scale must be one of absolute, loss_mad"),
        (("--method", "fisher_ssd", "--param", "importance=train"), "pass --param train_file="),
        (("--method", "fisher_ssd", "--param", "importance=everything"), "importance must be one of"),
        (("--method", "rapidun_coverage", "--param", "n_clusters=-1"), "n_clusters must be >= 0"),
        (("--method", "rapidun_batch_normalised", "--param", "min_batch=1"), "min_batch must be >= 2"),
        (("--method", "rapidun_dynamic", "--param", "refresh_every=0"), "refresh_every must be >= 1"),
    ],
)
def test_bad_variant_parameters_exit_2_with_one_line(split, tmp_path, capsys, extra, needle) -> None:
    from rapidun.cli.main import main
    from rapidun.data.rows import write_rows

    forget, retain = split
    write_rows(tmp_path / "f.jsonl", forget)
    write_rows(tmp_path / "r.jsonl", retain)
    argv = ["unlearn", "--model", "nano", "--forget", str(tmp_path / "f.jsonl"), "--retain", str(tmp_path / "r.jsonl")]
    assert main([*argv, "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_saturation_weights_combine_influence_and_current_loss() -> None:
    from rapidun.unlearning.methods.rapidun_saturation import combined

    out = combined(np.array([2.0, 1.0, 1.0]), np.array([0.0, 0.0, np.log(2.0)]), 1.0)
    # products 2, 1, 1/2 -> mean 7/6
    np.testing.assert_allclose(out, np.array([2.0, 1.0, 0.5]) * 6 / 7)


def test_saturation_refreshes_from_the_current_loss(nano_model, new_model, split, tmp_path, make_config, kwargs_for):
    forget, retain = split
    out = tmp_path / "sat"
    from rapidun.unlearning.methods.rapidun_saturation import RapidunSaturationParams

    unlearn(new_model(), nano_model.tokenizer, forget, retain, out, method="rapidun_saturation",
            params=RapidunSaturationParams(refresh_every=4), train=make_config(lr=5e-3), progress=False,
            **kwargs_for("rapidun_saturation", tmp_path, len(forget), len(retain)))  # fmt: skip
    run = json.loads((out / "run.json").read_text())
    assert run["weights"]["refreshed_at_steps"] == [0, 4]
    history = json.loads((out / "saturation_weights.json").read_text())
    assert history["4"] != history["0"] and np.mean(history["4"]) == pytest.approx(1.0)
