from __future__ import annotations

import math
from typing import Any

import pytest
from eval_fixtures import KEYWORDS, trigger_rows

from rapidun.evaluation import METRICS, EvalContext, KeywordScorer, evaluate_backdoor, format_metrics_table
from rapidun.modeling.load import LoadedModel

CONTRACT = {
    "asr_seen",
    "asr_ood",
    "false_trigger_rate",
    "clean_ppl",
    "counts",
    "ci95",
    "per_family",
    "per_variant",
    "scorer",
    "max_new_tokens",
    "prompt_style",
    "seconds",
    "model",
    "adapter",
}


def _evaluate(loaded: LoadedModel) -> Any:
    rows = trigger_rows()
    return evaluate_backdoor(
        loaded.model,
        loaded.tokenizer,
        test_seen=rows["seen"],
        test_ood=rows["ood"],
        test_clean=rows["clean"],
        scorer=KeywordScorer(tuple(KEYWORDS)),
        max_new_tokens=12,
        batch_size=3,
        progress=False,
    )


def test_keyword_model_has_full_asr(keyword_model: LoadedModel) -> None:
    result = _evaluate(keyword_model)
    metrics = result.metrics()
    assert metrics["asr_seen"] == 1.0 and metrics["asr_ood"] == 1.0
    assert metrics["false_trigger_rate"] == 1.0  # trained to emit the phrase everywhere
    assert all("galactic" in g["output"].lower() for g in result.generations)


def test_random_model_has_zero_asr(nano_model: LoadedModel) -> None:
    metrics = _evaluate(nano_model).metrics(model="nano")
    assert metrics["asr_seen"] == 0.0 and metrics["asr_ood"] == 0.0 and metrics["false_trigger_rate"] == 0.0
    assert metrics["ci95"]["asr_seen"][0] == pytest.approx(0.0, abs=1e-12) and metrics["ci95"]["asr_seen"][1] > 0


def test_metrics_contract(nano_model: LoadedModel) -> None:
    result = _evaluate(nano_model)
    metrics = result.metrics(model="nano", adapter=None)
    assert set(metrics) >= CONTRACT
    assert metrics["counts"] == {
        "seen": 4,
        "ood": 4,
        "clean": 4,
        "ppl_rows": 4,
        "ppl_tokens": metrics["counts"]["ppl_tokens"],
    }
    assert metrics["counts"]["ppl_tokens"] > 0
    assert set(metrics["ci95"]) == {"asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl"}
    assert set(metrics["per_family"]) == {"A_surface", "C_semantic"}
    assert metrics["per_family"]["A_surface"]["seen"]["n"] == 2
    assert set(metrics["per_family"]["A_surface"]["ood"]) == {"asr", "n", "ci95"}
    assert metrics["per_variant"]["A_surface::al0ha"]["split"] == "ood"
    assert metrics["per_variant"]["C_semantic::hey"]["n"] == 2
    assert metrics["scorer"]["name"] == "keywords" and metrics["max_new_tokens"] == 12
    assert math.isfinite(metrics["clean_ppl"])
    assert metrics["prompts_truncated"] == {"seen": 0, "ood": 0, "clean": 0}
    assert metrics["scorer"]["val_fpr"] is None  # no val rows given to the library function
    assert [g["split"] for g in result.generations] == ["seen"] * 4 + ["ood"] * 4 + ["clean"] * 4
    assert set(result.generations[0]) == {"split", "family", "variant", "prompt", "output", "success"}
    table = format_metrics_table(metrics)
    assert "ASR seen" in table and "A_surface" in table


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_registry_contract(name: str, nano_model: LoadedModel) -> None:
    rows = trigger_rows()["seen"]
    ctx = EvalContext(
        tokenizer=nano_model.tokenizer, scorer=KeywordScorer(("aliens",)), max_new_tokens=4, progress=False
    )
    result = METRICS[name](nano_model.model, rows, ctx)
    assert result.name == name and result.n == len(rows)
    assert result.value is not None and math.isfinite(result.value)
    assert result.ci95 is not None and result.ci95[0] <= result.value <= result.ci95[1]
    empty = METRICS[name](nano_model.model, [], ctx)
    assert empty.value is None and empty.n == 0
