"""unlearn() end to end: resume, evaluation-driven selection, divergence, reuse, loading the outputs, schedule."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

import rapidun.unlearning.gradient_run as gradient_run
from rapidun.artifacts import read_manifest
from rapidun.errors import RapidunError
from rapidun.modeling.load import load_model
from rapidun.training.loop import TrainingDiverged
from rapidun.unlearning import GAParams, LoreunParams, mixture_schedule, unlearn
from rapidun.unlearning.loreun_weights import loss_weights


def test_schedule_faithful_size_ratio_and_seed() -> None:
    sched = mixture_schedule(40, 120, epochs=2, batch_size=1, retain_ratio=3, seed=42)
    assert len(sched) == 320 and all(len(b) == 1 for b in sched)
    counts = Counter(i < 40 for b in sched for i in b)
    assert 50 <= counts[True] <= 110  # about a quarter of 320 draws are forget rows
    assert sched == mixture_schedule(40, 120, epochs=2, batch_size=1, retain_ratio=3, seed=42)
    assert sched != mixture_schedule(40, 120, epochs=2, batch_size=1, retain_ratio=3, seed=43)
    assert len(mixture_schedule(40, 120, epochs=2, batch_size=4)) == 80
    assert all(i < 40 for b in mixture_schedule(40, 120, forget_only=True) for i in b)


def test_loreun_weights_mean_one_and_variants() -> None:
    losses = np.array([1.0, 2.0, 3.0])
    w = loss_weights(losses, tau=1.0)
    assert w.mean() == pytest.approx(1.0) and w[0] > w[1] > w[2]
    assert w[0] / w[1] == pytest.approx(np.e)
    hard = loss_weights(losses, tau=1.0, variant="hard_high")
    assert hard[2] > hard[0]
    with pytest.raises(RapidunError):
        LoreunParams(variant="nope")


def _interrupt_at(monkeypatch, step_to_fail: int) -> None:
    real = gradient_run.make_loss_fn

    def wrapped(*args, **kwargs):
        fn = real(*args, **kwargs)

        def loss_fn(ids, step, forward=None):
            if step == step_to_fail:
                raise KeyboardInterrupt
            return fn(ids, step, forward)

        return loss_fn

    monkeypatch.setattr(gradient_run, "make_loss_fn", wrapped)


@pytest.mark.parametrize("method", ["graddiff", "loreun_dynamic"])
def test_resumed_after_kill_equals_uninterrupted(
    method, nano_model, new_model, split, tmp_path, monkeypatch, make_config
) -> None:
    forget, retain = split
    params = None
    if method == "loreun_dynamic":
        from rapidun.unlearning import LoreunDynamicParams

        params = LoreunDynamicParams(refresh_every=3)
    cfg = make_config(epochs=2.0, checkpoint_every=2)  # 16 steps; checkpoint every 2, killed at step 5
    full = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "a",
        method=method,
        params=params,
        train=cfg,
        progress=False,
    )
    with monkeypatch.context() as m:
        _interrupt_at(m, 5)
        with pytest.raises(KeyboardInterrupt):
            unlearn(
                new_model(),
                nano_model.tokenizer,
                forget,
                retain,
                tmp_path / "b",
                method=method,
                params=params,
                train=cfg,
                progress=False,
            )
    assert (tmp_path / "b" / "checkpoint").is_dir() and read_manifest(tmp_path / "b") is None
    resumed = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "b",
        method=method,
        params=params,
        train=cfg,
        progress=False,
    )
    assert resumed.run["resumed_from_step"] == 4
    assert resumed.run["training_s_before_resume"] > 0  # the killed part's training time is still counted
    assert resumed.run["stages"]["training"]["seconds"] > resumed.run["training_s_before_resume"]
    assert not (tmp_path / "b" / "training_progress.json").exists()
    assert resumed.run["losses"] == pytest.approx(full.run["losses"], abs=1e-6)
    a = load_file(str(tmp_path / "a" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "b" / "adapter_model.safetensors"))
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5)
    assert not (tmp_path / "b" / "checkpoint").exists()


def test_adapter_loads_with_peft_and_merge_matches(nano_model, new_model, split, tmp_path: Path, make_config) -> None:
    forget, retain = split
    out = tmp_path / "out"
    res = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        out,
        method="graddiff",
        train=make_config(),
        merge=True,
        progress=False,
    )
    ids = torch.tensor([[1, 5, 9, 14, 20]])
    with torch.no_grad():
        expected = res.model(input_ids=ids).logits
        loaded = PeftModel.from_pretrained(new_model(), str(out))
        loaded.eval()
        torch.testing.assert_close(loaded(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-4)
        merged = load_model(str(out / "merged"))
        torch.testing.assert_close(merged.model(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-4)


def test_evaluation_selects_best_checkpoint_by_the_stated_rule(
    nano_model, new_model, split, tmp_path: Path, make_config
) -> None:
    forget, retain = split
    # step -> (asr_seen, clean_ppl); start ppl 10, tolerance 10% -> ppl <= 11 qualifies
    table = {0: (0.9, 10.0), 2: (0.5, 10.5), 4: (0.1, 12.0), 6: (0.3, 10.9), 8: (0.6, 10.0)}
    calls = []

    def eval_fn(model):
        step = len(calls) * 2
        calls.append(step)
        asr, ppl = table[step]
        return {"asr_seen": asr, "clean_ppl": ppl}

    captured = {}
    real = gradient_run.EvalTracker.evaluate

    def spy(self, step, model):
        rec = real(self, step, model)
        captured[step] = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        return rec

    gradient_run.EvalTracker.evaluate = spy
    try:
        res = unlearn(
            new_model(),
            nano_model.tokenizer,
            forget,
            retain,
            tmp_path / "o",
            method="graddiff",
            train=make_config(),
            eval_fn=eval_fn,
            eval_every=2,
            progress=False,
        )
    finally:
        gradient_run.EvalTracker.evaluate = real
    assert calls == [0, 2, 4, 6, 8]
    assert res.run["selection"]["best_step"] == 6 and "clean_ppl" in res.run["selection"]["rule"]
    assert [e["step"] for e in res.run["evaluations"]] == [0, 2, 4, 6, 8]
    saved = load_file(str(tmp_path / "o" / "adapter_model.safetensors"))
    best = {k: v for k, v in captured[6].items() if "lora_B" in k}
    assert best and any(not torch.equal(best[k], captured[8][k]) for k in best)
    for name, tensor in best.items():
        key = next(k for k in saved if k in name.replace(".default", ""))
        torch.testing.assert_close(saved[key], tensor)


def test_divergence_stops_keeps_adapter_and_records_it(
    nano_model, new_model, split, tmp_path: Path, make_config
) -> None:
    forget, retain = split
    out = tmp_path / "o"
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        unlearn(
            new_model(),
            nano_model.tokenizer,
            forget,
            retain,
            out,
            method="ga",
            params=GAParams(),
            train=make_config(max_abs_loss=6.3, lr=5e-2),
            progress=False,
        )
    run = json.loads((out / "run.json").read_text())
    assert run["diverged"]["step"] > 1 and "diverged" in run["diverged"]["message"]
    assert (out / "adapter_model.safetensors").is_file() and read_manifest(out) is None


def test_finished_dir_reused_refused_or_overwritten(nano_model, new_model, split, tmp_path: Path, make_config) -> None:
    forget, retain = split
    out = tmp_path / "o"
    kw = dict(method="graddiff", progress=False)
    unlearn(new_model(), nano_model.tokenizer, forget, retain, out, train=make_config(), **kw)
    again = unlearn(new_model(), nano_model.tokenizer, forget, retain, out, train=make_config(), **kw)
    assert again.reused and again.model is None
    with pytest.raises(RapidunError, match="other settings"):
        unlearn(new_model(), nano_model.tokenizer, forget, retain, out, train=make_config(lr=2e-3), **kw)
    redo = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        out,
        train=make_config(lr=2e-3),
        overwrite=True,
        **kw,
    )
    assert not redo.reused and redo.run["config"]["train"]["lr"] == 2e-3


def test_run_json_records_resolved_defaults(nano_model, new_model, split, tmp_path: Path, make_config) -> None:
    forget, retain = split
    res = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "o",
        method="uniform",
        train=make_config(),
        progress=False,
    )
    cfg = res.run["config"]["train"]
    assert cfg["retain_ratio"] == 3.0 and cfg["clean_coef"] == 0.5 and cfg["ascent_coef"] == 1.0
    assert cfg["seed"] == 42 and cfg["lr_schedule"] == "cosine" and cfg["grad_clip"] == 1.0
    assert res.run["objective"]["clean_term"] is True
    assert (tmp_path / "o" / "weights" / "forget_weights.jsonl").is_file()
    assert res.run["steps"] == len(forget) + len(retain)


def test_rapidun_computes_influence_and_weights_and_times_them(
    nano_model, new_model, split, tmp_path: Path, make_config
) -> None:
    forget, retain = split
    out = tmp_path / "o"
    from rapidun.influence.config import InfluenceConfig
    from rapidun.unlearning import RapidunParams

    cfg = make_config()
    params = RapidunParams(influence=InfluenceConfig(projector="exact", max_length=cfg.max_length))
    res = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        out,
        method="rapidun",
        params=params,
        train=cfg,
        progress=False,
    )
    stages = res.run["stages"]
    assert stages["influence"]["ran"] and stages["influence"]["seconds"] > 0 and stages["weights"]["ran"]
    assert read_manifest(out / "influence") is not None and read_manifest(out / "weights") is not None
    w = [json.loads(line)["weight"] for line in (out / "weights" / "forget_weights.jsonl").read_text().splitlines()]
    assert len(w) == len(forget) and np.mean(w) == pytest.approx(1.0)
    assert res.run["weights"]["source"].startswith("influence:")


def test_existing_adapter_is_merged_before_the_new_one(
    nano_model, new_model, split, tmp_path: Path, make_config
) -> None:
    forget, retain = split
    first = unlearn(
        new_model(),
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "a",
        method="graddiff",
        train=make_config(),
        progress=False,
    )
    implanted = PeftModel.from_pretrained(new_model(), str(tmp_path / "a"))
    ids = torch.tensor([[1, 5, 9, 14, 20]])
    with torch.no_grad():
        before = first.model(input_ids=ids).logits
    res = unlearn(
        implanted,
        nano_model.tokenizer,
        forget,
        retain,
        tmp_path / "b",
        method="ga",
        train=make_config(),
        progress=False,
    )
    assert res.run["lora_check"]["base_unchanged"]
    # the new adapter disabled = the merged starting model (base + first adapter)
    with torch.no_grad(), res.model.disable_adapter():
        torch.testing.assert_close(res.model(input_ids=ids).logits, before, atol=1e-5, rtol=1e-4)


def test_resume_keeps_evaluations_and_best_state(
    nano_model, new_model, split, tmp_path, monkeypatch, make_config
) -> None:
    forget, retain = split

    def eval_fn(model):  # a deterministic function of the adapter, so both runs see the same numbers
        total = sum(float(p.abs().sum()) for n, p in model.named_parameters() if "lora_B" in n)
        return {"asr_seen": abs(total - 0.05), "clean_ppl": 1.0}

    cfg = make_config(epochs=2.0, checkpoint_every=4)
    kw = dict(method="graddiff", train=cfg, eval_fn=eval_fn, eval_every=2, progress=False)
    full = unlearn(new_model(), nano_model.tokenizer, forget, retain, tmp_path / "a", **kw)
    with monkeypatch.context() as m:
        _interrupt_at(m, 9)  # checkpoint at step 8, evaluations up to step 8 already persisted
        with pytest.raises(KeyboardInterrupt):
            unlearn(new_model(), nano_model.tokenizer, forget, retain, tmp_path / "b", **kw)
    resumed = unlearn(new_model(), nano_model.tokenizer, forget, retain, tmp_path / "b", **kw)
    assert resumed.run["resumed_from_step"] == 8
    steps = [e["step"] for e in resumed.run["evaluations"]]
    assert steps == [e["step"] for e in full.run["evaluations"]] == [0, 2, 4, 6, 8, 10, 12, 14, 16]
    for a, b in zip(full.run["evaluations"], resumed.run["evaluations"], strict=True):
        assert b["asr_seen"] == pytest.approx(a["asr_seen"], abs=1e-6)
    assert resumed.run["selection"]["best_step"] == full.run["selection"]["best_step"]
    assert full.run["selection"]["best_step"] < 8  # the best state was saved before the kill and reloaded
    a = load_file(str(tmp_path / "a" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "b" / "adapter_model.safetensors"))
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5)


def test_graddiff_unlearns_an_implanted_backdoor_and_keeps_retain(
    nano_model, new_model, toy_rows, split, tmp_path
) -> None:
    """Behaviour, not just mechanics: after memorising all 8 toy rows (2 poisoned), the RapidUn objective raises
    the poisoned responses' CE far above the retain rows' CE, which stays low."""
    from rapidun.data.tokenize import collate, encode_rows
    from rapidun.modeling.loss import per_sample_loss
    from rapidun.training.sft import LoraSettings
    from rapidun.unlearning import UnlearnConfig

    forget, retain = split
    model = new_model()
    batch = collate(encode_rows(toy_rows, nano_model.tokenizer, 64).examples, nano_model.tokenizer.pad_token_id)
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(80):
        opt.zero_grad()
        per_sample_loss(model, batch).mean().backward()
        opt.step()
    model.eval()
    poisoned = torch.tensor([bool(r.is_poisoned) for r in toy_rows])
    with torch.no_grad():
        before = per_sample_loss(model, batch)
    assert before.max() < 0.1  # the backdoor (and everything else) is memorised
    cfg = UnlearnConfig(epochs=8, lr=1e-2, max_length=64, lora=LoraSettings(r=8, alpha=16, dropout=0.0))
    res = unlearn(
        model, nano_model.tokenizer, forget, retain, tmp_path / "o", method="graddiff", train=cfg, progress=False
    )
    with torch.no_grad():
        after = per_sample_loss(res.model, batch)
    assert after[poisoned].min() > 1.0 and after[~poisoned].max() < 0.3
