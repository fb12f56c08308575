"""Precision/recall@k curves and their plot (pr_at_k.png), and the ``abs`` influence score of the trace stage."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from trace_fixtures import SMALL, Pack

from rapidun.errors import RapidunError
from rapidun.tracing import TraceConfig, trace
from rapidun.tracing.pr_plot import plot_pr_at_k
from rapidun.tracing.quality import pr_curve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_pr_curve_on_a_hand_made_ranking():
    positive = np.array([True, False, True, False, False])
    order = np.array([2, 1, 0, 4, 3])  # hits at ranks 1 and 3
    precision, recall = pr_curve(order, positive)
    np.testing.assert_allclose(precision, [1.0, 0.5, 2 / 3, 0.5, 0.4])
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0, 1.0, 1.0])


def test_plot_pr_at_k_writes_a_png(tmp_path):
    positive = np.array([True] * 3 + [False] * 7)
    curves = {"perfect": pr_curve(np.arange(10), positive), "reversed": pr_curve(np.arange(10)[::-1], positive)}
    out = plot_pr_at_k(curves, 3, tmp_path / "pr.png", title="two rankers")
    assert out.read_bytes().startswith(PNG_SIGNATURE) and out.stat().st_size > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["pr.png"]  # no temporary file left behind


def test_trace_writes_pr_at_k_only_with_labels(pack: Pack, tmp_path):
    m = pack.model
    cfg = TraceConfig(ranker="bm25", k=8)
    res = trace(m.model, m.tokenizer, pack.train, pack.reports, tmp_path / "l", cfg, progress=False)
    assert (tmp_path / "l" / "pr_at_k.png").read_bytes().startswith(PNG_SIGNATURE)
    assert {"quality.json", "pr_at_k.png"} <= set(res.manifest["files"])
    unlabelled = [replace(r, is_poisoned=None) for r in pack.train]
    res = trace(m.model, m.tokenizer, unlabelled, pack.reports, tmp_path / "u", cfg, progress=False)
    assert not (tmp_path / "u" / "pr_at_k.png").exists() and "pr_at_k.png" not in res.manifest["files"]


def test_abs_influence_is_the_magnitude_of_the_signed_scores(pack: Pack, tmp_path):
    m = pack.model

    def run(name: str, **settings):
        cfg = TraceConfig(**SMALL, k=8, **settings)
        return trace(
            m.model,
            m.tokenizer,
            pack.train,
            pack.reports,
            tmp_path / name,
            cfg,
            cache_dir=tmp_path / "c",
            progress=False,
        )

    signed, magnitude = run("signed", influence_score="signed"), run("abs")  # abs: the default
    assert (signed.scores < 0).any()  # otherwise the two settings could not differ
    np.testing.assert_array_equal(magnitude.scores, np.abs(signed.scores))
    manifest = json.loads((tmp_path / "abs" / "manifest.json").read_text())
    assert manifest["config"]["influence_score"] == "abs" and signed.manifest["config"]["influence_score"] == "signed"


def test_influence_score_is_checked():
    TraceConfig(ranker="bm25").check()  # the influence default does not stop the other rankers
    with pytest.raises(RapidunError, match="unknown --influence-score 'sign'"):
        TraceConfig(influence_score="sign").check()


def test_hotwords_are_checked():
    TraceConfig(hotwords=("alien",)).check()
    with pytest.raises(RapidunError, match="--hotwords needs --ranker influence"):
        TraceConfig(ranker="bm25", hotwords=("alien",)).check()
    with pytest.raises(RapidunError, match="--hotwords has no word"):
        TraceConfig(hotwords=(" ",)).check()
