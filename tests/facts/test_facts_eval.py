"""evaluate_facts end to end on the nano model, its scores against the shared loss, and the directory writer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rapidun.data.facts import FactsConfig, build_facts_pack, load_facts_pack
from rapidun.data.rows import Row
from rapidun.data.tokenize import collate, encode_rows
from rapidun.errors import RapidunError
from rapidun.evaluation.facts import FactsEvalConfig, evaluate_facts, pii_leakage
from rapidun.evaluation.facts_directory import evaluate_facts_dir
from rapidun.evaluation.facts_scoring import score_answers
from rapidun.evaluation.generate import pad_token_id
from rapidun.modeling.load import LoadedModel
from rapidun.modeling.loss import per_sample_loss

QUICK = FactsEvalConfig(max_new_tokens=4, batch_size=8, max_retain_rows=12, progress=False)


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("facts-eval") / "pack"
    build_facts_pack(out, FactsConfig(n_people=10, n_holdout=1, n_perturbed=2, seed=1))
    return out


def test_scores_match_the_shared_loss_and_do_not_depend_on_batching(nano_model: LoadedModel, pack_dir: Path) -> None:
    rows = load_facts_pack(pack_dir).forget[:6]
    tok = nano_model.tokenizer
    one = score_answers(nano_model.model, tok, rows, [r.response for r in rows], batch_size=1)
    many = score_answers(nano_model.model, tok, rows, [r.response for r in rows], batch_size=4)
    encoded = encode_rows(rows, tok, 128)
    with torch.inference_mode():
        loss = per_sample_loss(nano_model.model, collate(encoded.examples, pad_token_id(tok)))
    assert one.mean_logp == pytest.approx([-float(x) for x in loss], abs=1e-5)
    assert many.mean_logp == pytest.approx(one.mean_logp, abs=1e-5)
    assert many.min_k_plus_plus == pytest.approx(one.min_k_plus_plus, abs=1e-4)
    assert one.n_tokens == [len(e.input_ids) - e.labels.count(-100) for e in encoded.examples]
    # Min-K% with k = 0.2 is never above the mean log-prob (it averages the lowest tokens).
    assert all(m <= mean + 1e-9 for m, mean in zip(one.min_k, one.mean_logp))


def test_evaluate_facts_end_to_end(nano_model: LoadedModel, pack_dir: Path) -> None:
    pack = load_facts_pack(pack_dir)
    metrics = evaluate_facts(nano_model.model, nano_model.tokenizer, pack, config=QUICK)
    assert metrics["task"] == "facts"
    assert [metrics[s]["n"] for s in ("forget", "retain", "world", "holdout")] == [12, 12, 30, 12]
    # An untrained model knows nothing: no exact answer, no leaked email or phone.
    assert metrics["forget"]["accuracy"] == 0.0 and metrics["world"]["accuracy"] == 0.0
    assert metrics["pii_leakage"]["forget"] == {"people": 1, "leaked": 0, "rate": 0.0}
    assert len(metrics["forget"]["truth_ratios"]) == 12
    assert metrics["forget_quality"] is None  # no retrained model given
    assert set(metrics["mia"]) == {"loss", "zlib", "min_k", "min_k_plus_plus"}
    assert all(0.0 <= m["auc"] <= 1.0 and m["priv_leak"] is None for m in metrics["mia"].values())
    probs = metrics["forget"]["answer_prob"]
    assert 0.0 < probs < 1.0
    # Perplexity = 1 / geometric mean of the per-row answer probabilities <= 1 / their arithmetic mean (Jensen).
    assert metrics["forget"]["perplexity"] >= 1.0 / probs
    ratios = metrics["forget"]["truth_ratios"]
    assert metrics["forget"]["truth_ratio"]["mean"] == pytest.approx(sum(ratios) / len(ratios))
    # With the model's own truth ratios and AUCs as the reference: KS p = 1 and PrivLeak = 0.
    ref_auc = {a: m["auc"] for a, m in metrics["mia"].items()}
    again = evaluate_facts(
        nano_model.model, nano_model.tokenizer, pack, reference_truth_ratios=ratios, reference_auc=ref_auc, config=QUICK
    )
    assert again["forget_quality"] == pytest.approx(1.0)
    assert all(m["priv_leak"] == pytest.approx(0.0) for m in again["mia"].values())
    shifted = [r * 10.0 for r in ratios]  # every reference ratio far above: fully separated samples
    far = evaluate_facts(nano_model.model, nano_model.tokenizer, pack, reference_truth_ratios=shifted, config=QUICK)
    assert far["forget_quality"] < 1e-3


def test_pii_leakage_counts_people_with_a_verbatim_hit() -> None:
    def row(pid: str, attribute: str, fact: str) -> Row:
        return Row(
            f"What is {pid}'s {attribute}?", fact, extra={"person_id": pid, "attribute": attribute, "fact": fact}
        )

    rows = [
        row("p1", "email", "ab12@x.org"),
        row("p1", "phone", "222-333-4444"),
        row("p2", "email", "cd34@x.org"),
        row("p2", "phone", "555-666-7777"),
        row("p2", "birthplace", "Tasport"),
    ]
    outputs = ["It is ab12@x.org.", "unknown", "cd34@x.com", "555-666-777", "Tasport"]
    assert pii_leakage(rows, outputs) == {"people": 2, "leaked": 1, "rate": 0.5}


def test_evaluate_facts_dir_writes_and_reuses(nano_model: LoadedModel, pack_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    metrics = evaluate_facts_dir(nano_model, pack_dir, out, config=QUICK)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["forget"]["truth_ratios"] == pytest.approx(metrics["forget"]["truth_ratios"])
    records = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(records) == 12 + 12 + 30 + 12
    assert {r["split"] for r in records} == {"forget", "retain", "world", "holdout"}
    assert all(math.isfinite(r["truth_ratio"]) for r in records)
    (out / "generations.jsonl").unlink()  # a reused evaluation does not rewrite its files
    assert evaluate_facts_dir(nano_model, pack_dir, out, config=QUICK)["forget"]["n"] == 12
    assert not (out / "generations.jsonl").exists()
    with pytest.raises(RapidunError, match="other settings"):
        evaluate_facts_dir(nano_model, pack_dir, out, config=FactsEvalConfig(max_new_tokens=5, progress=False))
    ref = evaluate_facts_dir(nano_model, pack_dir, tmp_path / "with-ref", reference=out, config=QUICK)
    assert ref["forget_quality"] == pytest.approx(1.0)


def test_reference_of_another_forget_split_is_refused(nano_model: LoadedModel, pack_dir: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "metrics.json").write_text(json.dumps({"task": "facts", "forget_split": "forget01", "forget": {}}))
    with pytest.raises(RapidunError, match="evaluated on forget01"):
        evaluate_facts_dir(nano_model, pack_dir, tmp_path / "x", reference=ref, config=QUICK)
    (ref / "metrics.json").write_text(json.dumps({"asr": 0.5}))
    with pytest.raises(RapidunError, match="not a facts evaluation"):
        evaluate_facts_dir(nano_model, pack_dir, tmp_path / "x", reference=ref, config=QUICK)
