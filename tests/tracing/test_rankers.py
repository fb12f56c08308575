"""Rankers against independent computations: influence equals the influence stage's QT scores, embedding is
batch-size invariant and equals the cosine of a row-by-row forward pass."""

from __future__ import annotations

import json

import numpy as np
import torch
from trace_fixtures import SMALL, Pack

from rapidun.data.rows import Row
from rapidun.data.tokenize import encode_rows
from rapidun.influence.stage import compute_pairwise
from rapidun.tracing import TraceConfig, trace
from rapidun.tracing.rankers.embedding import mean_hidden


def test_influence_ranker_equals_the_influence_stage(pack: Pack, tmp_path):
    m = pack.model
    cfg = TraceConfig(**SMALL, influence_score="signed")  # the default "abs" is the magnitude of these scores
    res = trace(m.model, m.tokenizer, pack.train, pack.reports, tmp_path / "t", cfg, progress=False)
    report_rows = [Row(r.instruction, r.response or "", r.context) for r in pack.reports]
    stage = compute_pairwise(
        m.model, m.tokenizer, pack.train, report_rows, tmp_path / "i", **SMALL, rapidin_json=False, progress=False
    )
    np.testing.assert_array_equal(res.scores, stage.scores["QT"])


def test_hotword_trace_equals_the_influence_stage_with_hotwords_and_reuses_the_training_cache(pack: Pack, tmp_path):
    m = pack.model
    words = ("aliens", "galaxy")
    report_rows = [Row(r.instruction, r.response or "", r.context) for r in pack.reports]
    assert all(any(w in r.response.lower() for w in words) for r in report_rows)  # every report keeps some tokens
    cache = tmp_path / "cache"
    plain = trace(
        m.model,
        m.tokenizer,
        pack.train,
        pack.reports,
        tmp_path / "p",
        TraceConfig(**SMALL),
        cache_dir=cache,
        progress=False,
    )
    grads = cache / "train" / "grads.npy"
    before = grads.stat().st_mtime_ns
    cfg = TraceConfig(**SMALL, influence_score="signed", hotwords=words)
    res = trace(m.model, m.tokenizer, pack.train, pack.reports, tmp_path / "h", cfg, cache_dir=cache, progress=False)
    assert grads.stat().st_mtime_ns == before  # the training rows' store is shared; only the reports change
    stage = compute_pairwise(
        m.model,
        m.tokenizer,
        pack.train,
        report_rows,
        tmp_path / "i",
        **SMALL,
        hotwords=words,
        rapidin_json=False,
        progress=False,
    )
    np.testing.assert_allclose(res.scores, stage.scores["QT"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.abs(res.scores), plain.scores)  # the restriction changes the report gradients
    assert json.loads((tmp_path / "h" / "manifest.json").read_text())["config"]["hotwords"] == list(words)
    again = trace(m.model, m.tokenizer, pack.train, pack.reports, tmp_path / "h", cfg, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again.scores, res.scores)  # the finished directory is reused


def test_embedding_is_batch_invariant_and_a_plain_cosine(pack: Pack):
    m = pack.model
    rows = pack.train[:6]
    settings = dict(max_length=256, prompt_style="alpaca")
    batched = mean_hidden(m.model, m.tokenizer, rows, batch_size=4, **settings)
    single = mean_hidden(m.model, m.tokenizer, rows, batch_size=1, **settings)
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)  # right padding is masked out of the mean
    ex = encode_rows(rows[:1], m.tokenizer, 256).examples[0]
    with torch.no_grad():
        out = m.model(input_ids=torch.tensor([ex.input_ids]), output_hidden_states=True)
    torch.testing.assert_close(single[0], out.hidden_states[-1][0].mean(0), rtol=1e-5, atol=1e-6)
