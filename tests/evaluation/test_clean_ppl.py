from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rapidun.data.rows import Row
from rapidun.data.tokenize import encode_row
from rapidun.evaluation import METRICS, EvalContext
from rapidun.modeling.load import LoadedModel


def test_ppl_is_exp_of_token_weighted_mean_ce(nano_model: LoadedModel, toy_rows: list[Row]) -> None:
    model, tok = nano_model.model, nano_model.tokenizer
    ctx = EvalContext(tokenizer=tok, batch_size=3, progress=False)
    result = METRICS["clean_ppl"](model, toy_rows, ctx)
    total, count = 0.0, 0
    with torch.no_grad():
        for row in toy_rows:  # one by one, no padding, CE written out by hand
            enc = encode_row(row, tok, 512)
            assert enc is not None
            ids, labels, _ = enc
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            n_prompt = sum(1 for x in labels if x == -100)
            targets = torch.tensor(ids[n_prompt:])
            ce = F.cross_entropy(logits[n_prompt - 1 : len(ids) - 1].float(), targets, reduction="sum")
            total += float(ce)
            count += len(targets)
    assert result.details["tokens"] == count
    assert result.n == len(toy_rows)
    assert result.value == pytest.approx(math.exp(total / count), rel=1e-4)
    assert result.ci95 is not None and result.ci95[0] <= result.value <= result.ci95[1]


def test_ppl_of_no_rows_is_none(nano_model: LoadedModel) -> None:
    result = METRICS["clean_ppl"](nano_model.model, [], EvalContext(tokenizer=nano_model.tokenizer, progress=False))
    assert result.value is None and result.n == 0 and result.ci95 is None
