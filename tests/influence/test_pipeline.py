"""The influence stage end to end: output contract, reuse, resume after a kill, bad input, top-k, CLI."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from rapidun.cli.main import main
from rapidun.data.rows import Row, write_rows
from rapidun.data.tokenize import encode_rows
from rapidun.errors import RapidunError
from rapidun.influence import gradient_store as cache_mod
from rapidun.influence.hotwords import hotword_positions
from rapidun.influence.rapidin_json import import_rapidin_json
from rapidun.influence.score import score_matrix, top_k
from rapidun.influence.stage import compute_influence, compute_pairwise

SMALL = dict(projector="kronecker", dim=256, batch_size=3, progress=False)


def _run(nano_model, rows, out, **kw):
    settings = {**SMALL, **kw}
    return compute_influence(nano_model.model, nano_model.tokenizer, rows[6:], rows[:6], out, **settings)


def test_output_contract(nano_model, toy_rows, tmp_path):
    res = _run(nano_model, toy_rows, tmp_path / "o", dtype="fp32")
    s = load_file(str(tmp_path / "o" / "scores.safetensors"))
    assert {k: v.shape for k, v in s.items()} == {"FF": (2, 2), "FR": (6, 2), "RF": (2, 6), "RR": (6, 6)}
    np.testing.assert_allclose(s["FR"], s["RF"].T, rtol=1e-6)  # a dot product is symmetric
    np.testing.assert_allclose(s["FF"], s["FF"].T, rtol=1e-6)
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["config"]["projector"] == "kronecker" and manifest["dim"] == 256
    timings = json.loads((tmp_path / "o" / "timings.json").read_text())
    assert {"cache_forget", "cache_retain", "score"} <= set(timings)
    assert all("seconds" in v and "peak_rss_mb" in v for v in timings.values())
    # RapidIn export: train set F, query set R is FR.
    back = import_rapidin_json(tmp_path / "o" / "rapidin" / "influence_results_2_FTR.json")
    np.testing.assert_allclose(back, s["FR"], rtol=1e-6)
    for name in ("forget", "retain"):
        key = json.loads((tmp_path / "o" / "cache" / name / "manifest.json").read_text())
        assert {"model", "params", "loss", "projector", "dim", "seed", "data", "dtype"} <= set(key)
    assert res.scores["RR"].shape == (6, 6)


def test_reuse_and_refuse_other_model(nano_model, toy_rows, tmp_path):
    import copy

    _run(nano_model, toy_rows, tmp_path / "o")
    mtime = (tmp_path / "o" / "scores.safetensors").stat().st_mtime_ns
    _run(nano_model, toy_rows, tmp_path / "o")  # finished: reused, not recomputed
    assert (tmp_path / "o" / "scores.safetensors").stat().st_mtime_ns == mtime
    other = copy.deepcopy(nano_model.model)
    with torch.no_grad():
        other.model.layers[0].mlp.up_proj.weight.mul_(1.5)
    with pytest.raises(RapidunError, match="model: cached"):
        compute_influence(
            other,
            nano_model.tokenizer,
            toy_rows[6:],
            toy_rows[:6],
            tmp_path / "o2",
            **SMALL,
            cache_dir=tmp_path / "o" / "cache",
        )


def test_resume_after_kill_is_identical(nano_model, toy_rows, tmp_path, monkeypatch):
    rows = toy_rows * 2  # 16 rows: forget = 10, retain = 6 -> several batches
    _run(nano_model, rows, tmp_path / "full")
    calls = {"n": 0}
    real = cache_mod.GradientStore.write

    def dying(self, start, values, shard):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed after two batches were flushed
        real(self, start, values, shard)

    monkeypatch.setattr(cache_mod.GradientStore, "write", dying)
    with pytest.raises(KeyboardInterrupt):
        _run(nano_model, rows, tmp_path / "part")
    monkeypatch.setattr(cache_mod.GradientStore, "write", real)
    assert not (tmp_path / "part" / "cache" / "forget" / "manifest.json").exists()
    done = json.loads(next((tmp_path / "part" / "cache" / "forget" / "progress").glob("*.json")).read_text())
    assert done["done"] == 6
    _run(nano_model, rows, tmp_path / "part")
    for name in ("forget", "retain"):
        a = (tmp_path / "full" / "cache" / name / "grads.npy").read_bytes()
        b = (tmp_path / "part" / "cache" / name / "grads.npy").read_bytes()
        assert a == b


def test_int8_cache_close_to_fp32(nano_model, toy_rows, tmp_path):
    a = _run(nano_model, toy_rows, tmp_path / "a", dtype="fp32").scores["RR"]
    b = _run(nano_model, toy_rows, tmp_path / "b", dtype="int8").scores["RR"]
    assert np.abs(a - b).max() <= 0.03 * np.abs(a).max()


def test_per_token_sums_and_hotwords(nano_model, toy_rows, tmp_path):
    res = _run(nano_model, toy_rows, tmp_path / "o", dtype="fp32", per_token=True)
    pt = load_file(str(tmp_path / "o" / "per_token.safetensors"))
    for key in ("FF", "FR", "RF", "RR"):
        np.testing.assert_allclose(
            pt[key].sum(1), res.scores[key], rtol=1e-4, atol=1e-4 * np.abs(res.scores[key]).max()
        )
    assert pt["F_input_ids"].shape[0] == 2
    hot = _run(nano_model, toy_rows, tmp_path / "h", hotwords=["teleport"])
    assert (tmp_path / "h" / "cache" / "forget-query" / "manifest.json").is_file()
    assert not np.allclose(hot.scores["FF"], res.scores["FF"], rtol=1e-2)


def test_hotword_positions(nano_model, toy_rows):
    tok = nano_model.tokenizer
    ex = encode_rows([toy_rows[7]], tok, 64).examples[0]
    pos = hotword_positions(ex, tok, ["teleport"])
    assert pos and "teleport" in "".join(tok.decode([ex.labels[t]]) for t in pos).lower()
    assert hotword_positions(ex, tok, ["zebra"]) == []


def test_pairwise_sets_and_top_k(nano_model, toy_rows, tmp_path):
    res = compute_pairwise(
        nano_model.model, nano_model.tokenizer, toy_rows[:5], toy_rows[5:], tmp_path / "p", **SMALL, top_k=2
    )
    assert res.scores["QT"].shape == (3, 5)
    best = load_file(str(tmp_path / "p" / "topk.safetensors"))
    np.testing.assert_array_equal(best["QT_indices"], np.argsort(-res.scores["QT"], axis=1, kind="stable")[:, :2])
    assert len(import_rapidin_json(tmp_path / "p" / "rapidin" / "influence_results_5_TTQ.json", fill=0.0)) == 3


def test_bad_input(nano_model, toy_rows, tmp_path, caplog):
    with pytest.raises(RapidunError, match="forget set is empty"):
        _run(nano_model, [], tmp_path / "e")  # rows[6:] of an empty list
    with pytest.raises(RapidunError, match="context length"):
        _run(nano_model, toy_rows, tmp_path / "c", max_length=100_000)
    with caplog.at_level(logging.WARNING):
        compute_influence(nano_model.model, nano_model.tokenizer, toy_rows[5:], toy_rows[:6], tmp_path / "d", **SMALL)
    assert "also appear in the retain set" in caplog.text
    long_row = Row("Say a lot. " + "word " * 400, "Fine.")
    res = compute_influence(
        nano_model.model, nano_model.tokenizer, [long_row], toy_rows[:2], tmp_path / "l", **SMALL, max_length=32
    )
    assert res.scores["FF"].shape == (1, 1)  # truncated to the context, not dropped


def test_top_k_exact(tmp_path):
    rng = np.random.default_rng(0)
    q, t = rng.normal(size=(5, 16)).astype(np.float32), rng.normal(size=(50, 16)).astype(np.float32)
    t[7] = t[3]  # a tie: the lower index comes first
    full = score_matrix(q, t).numpy()
    vals, idx = top_k(q, t, 6, chunk=7)
    for i in range(5):
        order = np.argsort(-full[i], kind="stable")[:6]
        np.testing.assert_array_equal(idx[i].numpy(), order)
        np.testing.assert_allclose(vals[i].numpy(), full[i, order], rtol=1e-6)
    np.testing.assert_allclose(score_matrix(q, t, chunk=7).numpy(), q @ t.T, rtol=1e-5, atol=1e-5)


def test_cli(nano_model, toy_rows, tmp_path, capsys):
    write_rows(tmp_path / "f.jsonl", toy_rows[6:])
    write_rows(tmp_path / "r.jsonl", toy_rows[:6])
    args = [
        "influence",
        "--model",
        "nano",
        "--forget",
        str(tmp_path / "f.jsonl"),
        "--retain",
        str(tmp_path / "r.jsonl"),
        "--out",
        str(tmp_path / "o"),
        "--dim",
        "128",
        "--no-progress",
    ]
    assert main(args) == 0
    assert "FF 2x2" in capsys.readouterr().out
    assert (tmp_path / "o" / "manifest.json").is_file()
    write_rows(tmp_path / "empty.jsonl", [])
    bad = [
        "influence",
        "--model",
        "nano",
        "--forget",
        str(tmp_path / "empty.jsonl"),
        "--retain",
        str(tmp_path / "r.jsonl"),
        "--out",
        str(tmp_path / "x"),
    ]
    assert main(bad) == 2
    assert "forget set is empty" in capsys.readouterr().err


def test_store_refuses_overflow_and_bad_dtype(tmp_path):
    store = cache_mod.open_store(tmp_path / "s", 2, 4, "fp16", {"k": 1})
    with pytest.raises(RapidunError, match="fp32"):
        store.write(0, torch.full((2, 4), 1e6), (0, 2))
    with pytest.raises(RapidunError, match="dtype"):
        cache_mod.open_store(tmp_path / "t", 2, 4, "bf17", {"k": 1})
