"""Clean perplexity (docs/method.md section 6): exp of the token-weighted mean response cross-entropy on clean held-out
rows, with the training prompt format,

    PPL = exp( sum_rows sum_response_tokens -log p(y_t | x, y_<t) / sum_rows #response_tokens ).

Rows are tokenised by :func:`rapidun.data.tokenize.encode_rows` (prompt masked, same truncation as training) and
scored by :func:`rapidun.modeling.loss.response_nll`. The 95% interval is a seeded percentile bootstrap over rows
(1000 resamples, see :func:`.intervals.bootstrap_ratio_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from rapidun.data.rows import Row
from rapidun.data.tokenize import collate, encode_rows
from rapidun.evaluation.generate import model_max_positions, pad_token_id
from rapidun.evaluation.intervals import bootstrap_ratio_interval
from rapidun.evaluation.protocol import EvalContext, MetricResult
from rapidun.modeling.loss import response_nll

CI_METHOD = "percentile bootstrap over rows, 1000 resamples"


def clean_ppl(model: Any, rows: Sequence[Row], ctx: EvalContext) -> MetricResult:
    """Token-weighted perplexity of the rows' responses; details hold ``tokens``, ``nll_sum``, ``mean_nll``,
    ``skipped`` and ``truncated`` row counts; ``records`` one ``{"index", "nll", "tokens"}`` per scored row, in row
    order (``index`` = the row's position in ``rows``), so a paired bootstrap can recompute the perplexity."""
    max_length = ctx.max_length or model_max_positions(model)
    encoded = encode_rows(rows, ctx.tokenizer, max_length, ctx.prompt_style, name="clean_ppl")
    examples = sorted(encoded.examples, key=lambda e: len(e.input_ids))  # less padding per batch
    pad_id = pad_token_id(ctx.tokenizer)
    nll: list[float] = []
    tokens: list[float] = []
    order = [e.index for e in examples]
    was_training = bool(getattr(model, "training", False))
    model.eval()
    batches = [examples[i : i + ctx.batch_size] for i in range(0, len(examples), ctx.batch_size)]
    try:
        with torch.inference_mode():
            for chunk in tqdm(
                batches, desc="clean-ppl", unit="batch", disable=not ctx.progress or not batches, leave=False
            ):
                sums, counts = response_nll(model, collate(chunk, pad_id))  # moves the batch to the model
                nll.extend(sums.double().cpu().tolist())
                tokens.extend(counts.double().cpu().tolist())
    finally:
        if was_training:
            model.train()
    total_nll, total_tokens = sum(nll), sum(tokens)
    mean = total_nll / total_tokens if total_tokens else None
    ci = bootstrap_ratio_interval(nll, tokens, transform="exp", seed=ctx.seed) if total_tokens else None
    return MetricResult(
        name="clean_ppl",
        value=math.exp(mean) if mean is not None else None,
        n=len(nll),
        ci95=ci,
        records=[{"index": i, "nll": n, "tokens": int(t)} for i, n, t in sorted(zip(order, nll, tokens, strict=True))],
        details={
            "tokens": int(total_tokens),
            "nll_sum": total_nll,
            "mean_nll": mean,
            "skipped": len(encoded.skipped),
            "truncated": encoded.truncated,
            "max_length": max_length,
            "ci_method": CI_METHOD,
        },
    )
