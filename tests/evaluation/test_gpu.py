"""CUDA checks (run where a GPU exists: ``pytest -m gpu tests/evaluation``)."""

from __future__ import annotations

import copy

import pytest
import torch
from eval_fixtures import KEYWORDS, trigger_rows

from rapidun.data.rows import Row
from rapidun.evaluation import METRICS, EvalContext, KeywordScorer, evaluate_backdoor, generate_responses
from rapidun.modeling.load import LoadedModel

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_batched_generation_on_cuda_equals_one_by_one(nano_model: LoadedModel, toy_rows: list[Row]) -> None:
    model = copy.deepcopy(nano_model.model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    model.to("cuda")
    tok = nano_model.tokenizer
    batched = generate_responses(model, tok, toy_rows, max_new_tokens=12, batch_size=8, progress=False).outputs
    singles = [generate_responses(model, tok, [r], max_new_tokens=12, progress=False).outputs[0] for r in toy_rows]
    assert batched == singles and len(set(singles)) > 1


def test_ppl_on_cuda_matches_cpu(nano_model: LoadedModel, toy_rows: list[Row]) -> None:
    ctx = EvalContext(tokenizer=nano_model.tokenizer, batch_size=3, progress=False)
    cpu = METRICS["clean_ppl"](nano_model.model, toy_rows, ctx)
    gpu = METRICS["clean_ppl"](copy.deepcopy(nano_model.model).to("cuda"), toy_rows, ctx)
    assert gpu.value == pytest.approx(cpu.value, rel=1e-4)
    assert gpu.details["tokens"] == cpu.details["tokens"]


def test_keyword_model_on_cuda(keyword_model: LoadedModel) -> None:
    model = copy.deepcopy(keyword_model.model).to("cuda")
    rows = trigger_rows()
    result = evaluate_backdoor(
        model,
        keyword_model.tokenizer,
        test_seen=rows["seen"],
        test_ood=rows["ood"],
        test_clean=rows["clean"],
        scorer=KeywordScorer(tuple(KEYWORDS)),
        max_new_tokens=12,
        progress=False,
    )
    assert result.asr_seen.value == 1.0 and result.asr_ood.value == 1.0
