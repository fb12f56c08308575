"""The trace stage end to end on a tiny poisoned pack: attribution quality, output contract, cache reuse across
report sets, resume after a kill, reuse of a finished directory, generated responses."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trace_fixtures import SMALL, Pack, auc

from rapidun.data.rows import Row, load_rows
from rapidun.evaluation.generate import generate_responses
from rapidun.influence import gradient_store as store_mod
from rapidun.tracing import Report, TraceConfig, load_result, load_traced_sets, trace
from rapidun.tracing.config import RANKER_NAMES
from rapidun.tracing.ranker_registry import RANKERS


def _trace(pack: Pack, out, reports=None, **kw):
    settings = {**SMALL, **{k: v for k, v in kw.items() if k not in ("cache_dir", "overwrite")}}
    extra = {k: v for k, v in kw.items() if k in ("cache_dir", "overwrite")}
    m = pack.model
    return trace(
        m.model, m.tokenizer, pack.train, reports or pack.reports, out, TraceConfig(**settings), progress=False, **extra
    )


def test_registry_matches_the_documented_names():
    assert tuple(RANKERS) == RANKER_NAMES


def test_influence_ranks_poisoned_rows_first(pack, tmp_path):
    res = _trace(pack, tmp_path / "o", k=8)
    assert res.scores.shape == (4, len(pack.train))
    assert auc(res.aggregated, pack.poisoned) > 0.85  # measured 0.97
    assert pack.poisoned[res.forget].mean() >= 0.5  # measured 7 of 8
    # Output contract: every row ranked once, best first; forget = the top k; retain = the 3k lowest.
    ranking = [json.loads(line) for line in (tmp_path / "o" / "ranking.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in ranking) == list(range(len(pack.train)))
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)
    assert [r["index"] for r in ranking[:8]] == res.forget
    assert [r["index"] for r in ranking[::-1][:24]] == res.retain
    forget, retain = load_traced_sets(tmp_path / "o")
    assert forget == [pack.train[i] for i in res.forget] and len(retain) == 24
    assert ranking[0]["row"] == pack.train[ranking[0]["index"]].to_dict()
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["forget_rule"] == "top-8" and manifest["config"]["ranker"] == "influence"
    assert {"cache_train", "cache_reports", "score"} <= set(json.loads((tmp_path / "o" / "timings.json").read_text()))
    quality = json.loads((tmp_path / "o" / "quality.json").read_text())
    assert quality["roc_auc"] == pytest.approx(auc(res.aggregated, pack.poisoned))
    assert quality["at_n_poisoned"]["precision"] == pack.poisoned[res.forget].mean()  # k = 8 = the poisoned rows


@pytest.mark.parametrize("ranker", ["bm25", "embedding", "random"])
def test_baseline_rankers(pack, tmp_path, ranker):
    res = _trace(pack, tmp_path / ranker, ranker=ranker, k=8)
    assert res.scores.shape == (4, len(pack.train)) and np.isfinite(res.scores).all()
    if ranker == "bm25":  # the reports share the trigger word 'cf' and the poison register with the poisoned rows
        assert auc(res.aggregated, pack.poisoned) > 0.95  # measured 1.0
    if ranker == "random":
        again = _trace(pack, tmp_path / "again", ranker=ranker, k=8)
        other = _trace(pack, tmp_path / "seed1", ranker=ranker, k=8, seed=1)
        assert again.forget == res.forget and other.forget != res.forget


def test_training_cache_is_reused_across_report_sets(pack, tmp_path, monkeypatch):
    cache = tmp_path / "shared-cache"
    writes: list[str] = []
    real = store_mod.GradientStore.write

    def counting(self, start, values, shard):
        writes.append(self.dir.name)
        real(self, start, values, shard)

    monkeypatch.setattr(store_mod.GradientStore, "write", counting)
    first = _trace(pack, tmp_path / "a", cache_dir=cache)
    assert writes.count("train") == -(-len(pack.train) // SMALL["batch_size"])  # one caching pass
    grads = cache / "train" / "grads.npy"
    before = grads.stat().st_mtime_ns
    writes.clear()
    second = _trace(pack, tmp_path / "b", reports=pack.other_reports, cache_dir=cache)
    assert "train" not in writes and writes  # only the new reports were cached
    assert grads.stat().st_mtime_ns == before
    assert second.scores.shape == (3, len(pack.train)) and not (tmp_path / "b" / "cache" / "train").exists()
    assert auc(second.aggregated, pack.poisoned) > 0.85  # measured 0.97
    assert first.manifest["cache_dir"] == str(cache)


def test_killed_trace_resumes_to_the_same_ranking(pack, tmp_path, monkeypatch):
    full = _trace(pack, tmp_path / "full", k=8)
    real = store_mod.GradientStore.write
    calls = {"n": 0}

    def dying(self, start, values, shard):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # killed after three batches of the training rows were flushed
        real(self, start, values, shard)

    monkeypatch.setattr(store_mod.GradientStore, "write", dying)
    with pytest.raises(KeyboardInterrupt):
        _trace(pack, tmp_path / "part", k=8)
    monkeypatch.setattr(store_mod.GradientStore, "write", real)
    assert not (tmp_path / "part" / "manifest.json").exists()
    assert not (tmp_path / "part" / "ranking.jsonl").exists()
    progress = json.loads(next((tmp_path / "part" / "cache" / "train" / "progress").glob("*.json")).read_text())
    assert progress["done"] == 3 * SMALL["batch_size"]
    resumed = _trace(pack, tmp_path / "part", k=8)
    assert (tmp_path / "part" / "ranking.jsonl").read_bytes() == (tmp_path / "full" / "ranking.jsonl").read_bytes()
    np.testing.assert_array_equal(resumed.scores, full.scores)
    assert resumed.forget == full.forget and resumed.retain == full.retain


def test_finished_trace_is_reused_and_other_settings_refused(pack, tmp_path):
    from rapidun.errors import RapidunError

    _trace(pack, tmp_path / "o", ranker="bm25", k=5)
    ranking = tmp_path / "o" / "ranking.jsonl"
    mtime = ranking.stat().st_mtime_ns
    again = _trace(pack, tmp_path / "o", ranker="bm25", k=5)
    assert ranking.stat().st_mtime_ns == mtime and len(again.forget) == 5
    with pytest.raises(RapidunError, match="other settings"):
        _trace(pack, tmp_path / "o", ranker="bm25", k=6)
    assert len(_trace(pack, tmp_path / "o", ranker="bm25", k=6, overwrite=True).forget) == 6
    # a directory written before a setting existed (here: hotwords) is reused while that setting is unset
    manifest_path = tmp_path / "o" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["config"]["hotwords"]
    manifest_path.write_text(json.dumps(manifest))
    mtime = ranking.stat().st_mtime_ns
    assert len(_trace(pack, tmp_path / "o", ranker="bm25", k=6).forget) == 6
    assert ranking.stat().st_mtime_ns == mtime


def test_report_without_response_gets_the_models_greedy_output(pack, tmp_path, monkeypatch):
    from rapidun.evaluation import generate

    calls = []

    def fake_generate(model, tokenizer, rows, **kw):  # the random nano model's greedy output is empty
        calls.append(([r.instruction for r in rows], kw["max_new_tokens"]))
        return generate.Generations(["Aliens teleport the fleet."] * len(rows), ["p"] * len(rows), 0)

    monkeypatch.setattr(generate, "generate_responses", fake_generate)
    reports = [Report(pack.reports[0].instruction, pack.reports[0].context), pack.reports[1], Report("cf Hi", "", "")]
    res = _trace(pack, tmp_path / "g", reports=reports, k=2, max_new_tokens=6)
    written = [json.loads(line) for line in (tmp_path / "g" / "reports.jsonl").read_text().splitlines()]
    assert calls == [([pack.reports[0].instruction, "cf Hi"], 6)]  # only the reports without a response
    assert [w["generated"] for w in written] == [True, False, True]
    assert written[0]["response"] == "Aliens teleport the fleet." and written[1]["response"] == pack.reports[1].response
    assert res.manifest["generated_responses"] == 2 and res.scores.shape == (3, len(pack.train))


def test_empty_generated_response_is_refused_by_gradient_rankers(pack, tmp_path):
    from rapidun.errors import RapidunError

    m = pack.model
    empty = generate_responses(m.model, m.tokenizer, [Row("cf Hi", "")], max_new_tokens=4, progress=False)
    assert not empty.outputs[0].strip()  # the random nano model emits only blank lines: the case tested here
    with pytest.raises(
        RapidunError, match=r"report\(s\) \[0\] have no response and the model's greedy response is blank"
    ):
        _trace(pack, tmp_path / "e", reports=[Report("cf Hi")], k=2, max_new_tokens=4)
    assert not (tmp_path / "e" / "manifest.json").exists()
    res = _trace(pack, tmp_path / "b", reports=[Report("cf Hi")], ranker="bm25", k=2, max_new_tokens=4)
    assert res.manifest["generated_responses"] == 1  # a lexical ranker still has the prompt to search with


def test_data_driven_cut_off_and_reload(pack, tmp_path):
    res = _trace(pack, tmp_path / "o", ranker="bm25")
    assert "robust z" in res.manifest["forget_rule"]
    assert 1 <= len(res.forget) <= 0.25 * len(pack.train) and pack.poisoned[res.forget].all()  # measured 7 of 8
    assert len(res.retain) == 3 * len(res.forget) and not pack.poisoned[res.retain].any()
    back = load_result(tmp_path / "o")
    np.testing.assert_allclose(back.aggregated, res.aggregated, rtol=1e-6)
    assert back.forget == res.forget
    assert load_rows(tmp_path / "o" / "forget.jsonl") == [pack.train[i] for i in res.forget]


def test_per_token_view_sums_to_the_pair_scores(pack, tmp_path):
    from safetensors.numpy import load_file

    res = _trace(pack, tmp_path / "t", k=3, per_token=True, dtype="fp32", influence_score="signed")
    view = load_file(str(tmp_path / "t" / "per_token.safetensors"))
    assert view["forget_indices"].tolist() == res.forget
    n_tokens = (view["input_ids"] >= 0).sum(1)
    assert view["scores"].shape == (4, n_tokens.max(), 3)
    expected = res.scores[:, res.forget]
    np.testing.assert_allclose(view["scores"].sum(1), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    lines = [json.loads(line) for line in (tmp_path / "t" / "per_token.jsonl").read_text().splitlines()]
    assert [line["index"] for line in lines] == res.forget
    first = lines[0]["reports"][0]
    contributions = view["scores"][0, : n_tokens[0], 0]
    assert [t["position"] for t in first["tokens"]] == np.argsort(-contributions, kind="stable")[:5].tolist()
    assert "per_token.jsonl" in res.manifest["files"]
