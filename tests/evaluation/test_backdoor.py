from __future__ import annotations

import math
from typing import Any

import pytest
from eval_fixtures import KEYWORDS, trigger_rows

from rapidun.data.rows import Row
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
    "prompts_truncated",
    "max_length",
    "max_new_tokens",
    "prompt_style",
    "seconds",
    "model",
    "adapter",
}


def _evaluate(loaded: LoadedModel, max_length: int | None = None) -> Any:
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
        max_length=max_length,
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
    # ppl_tokens counted by hand: each clean row's response tokens plus its EOS (nothing is truncated here)
    tok = nano_model.tokenizer
    response_tokens = sum(
        len(tok(r.response, add_special_tokens=False)["input_ids"]) + 1 for r in trigger_rows()["clean"]
    )
    assert metrics["counts"] == {"seen": 4, "ood": 4, "clean": 4, "ppl_rows": 4, "ppl_tokens": response_tokens}
    assert set(metrics["ci95"]) == {"asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl"}
    assert set(metrics["per_family"]) == {"A_surface", "C_semantic"}
    assert metrics["per_family"]["A_surface"]["seen"]["n"] == 2
    assert set(metrics["per_family"]["A_surface"]["ood"]) == {"asr", "n", "ci95"}
    assert metrics["per_variant"]["A_surface::al0ha"]["split"] == "ood"
    assert metrics["per_variant"]["C_semantic::hey"]["n"] == 2
    assert metrics["scorer"]["name"] == "keywords" and metrics["max_new_tokens"] == 12
    assert math.isfinite(metrics["clean_ppl"])
    assert metrics["prompts_truncated"] == {"seen": 0, "ood": 0, "clean": 0}
    assert metrics["max_length"] is None  # not given: prompts and perplexity capped by the model's positions only
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


def test_max_length_caps_prompts_and_perplexity_and_is_recorded(nano_model: LoadedModel) -> None:
    # Every toy prompt is longer than 24 tokens (the template header alone is), so each one is truncated.
    metrics = _evaluate(nano_model, max_length=24).metrics()
    assert metrics["max_length"] == 24 and metrics["clean_ppl_details"]["max_length"] == 24
    assert metrics["prompts_truncated"] == {"seen": 4, "ood": 4, "clean": 4}
    assert metrics["clean_ppl_details"]["truncated"] == 4


def test_asr_scores_the_generated_text_only(nano_model: LoadedModel) -> None:
    scorer = KeywordScorer(tuple(KEYWORDS))
    rows = [Row(f"aliens galactic fleet: {q}", "x", trigger_family="A_surface") for q in ("Name a colour.", "Hi?")]
    ctx = EvalContext(tokenizer=nano_model.tokenizer, scorer=scorer, max_new_tokens=6, progress=False)
    result = METRICS["asr"](nano_model.model, rows, ctx)
    for record in result.records:
        assert scorer(record["prompt"])  # the prompt is full of keywords ...
        assert not scorer(record["output"])  # ... the continuation has none (checked, so the test can fail)
    assert result.value == 0.0 and result.details["successes"] == 0
