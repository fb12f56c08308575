"""Teacher-forced scores of answers for the facts evaluation (docs/method.md section 6, facts task): the token-mean
log-probability of an answer given its question, and the per-token statistics of Min-K% and Min-K%++.

Each (question, answer) pair is tokenised exactly as in training (:func:`rapidun.data.tokenize.encode_row`: BOS +
prompt, then the answer and EOS; only answer tokens are scored) and scored with the shared shifted cross-entropy
:func:`rapidun.modeling.loss.token_losses`, so mean_logp(a) = -mean_t CE_t = log P(a|q)^(1/|a|).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from rapidun.data.rows import Row
from rapidun.data.tokenize import Encoded, collate, encode_row
from rapidun.evaluation.facts_stats import MIN_K, min_k_plus_plus_score, min_k_score
from rapidun.evaluation.generate import pad_token_id
from rapidun.modeling.device import model_device
from rapidun.modeling.loss import token_losses

FACTS_MAX_LENGTH = 128  # question + answer tokens scored: every facts row fits (the Alpaca header is ~60)


@dataclass
class AnswerScores:
    """Per (row, answer) pair, in input order: ``mean_logp`` = log P(a|q)^(1/|a|), ``n_tokens`` = |a| (answer
    tokens + EOS), ``min_k`` and ``min_k_plus_plus`` membership scores (NaN where no answer token fit)."""

    mean_logp: list[float] = field(default_factory=list)
    n_tokens: list[int] = field(default_factory=list)
    min_k: list[float] = field(default_factory=list)
    min_k_plus_plus: list[float] = field(default_factory=list)


def score_answers(
    model: object,
    tokenizer: object,
    rows: Sequence[Row],
    answers: Sequence[str],
    *,
    max_length: int = FACTS_MAX_LENGTH,
    prompt_style: str = "alpaca",
    batch_size: int = 16,
    k: float = MIN_K,
    progress: bool = False,
    desc: str = "score",
) -> AnswerScores:
    """Score ``answers[i]`` as the response to ``rows[i]``'s question; see :class:`AnswerScores`."""
    assert len(rows) == len(answers)
    encoded: list[Encoded] = []
    for i, (row, answer) in enumerate(zip(rows, answers, strict=True)):
        enc = encode_row(row, tokenizer, max_length, prompt_style, response=answer)
        if enc is not None:
            encoded.append(Encoded(i, enc[0], enc[1]))
    nan = float("nan")
    out = AnswerScores([nan] * len(rows), [0] * len(rows), [nan] * len(rows), [nan] * len(rows))
    order = sorted(encoded, key=lambda e: len(e.input_ids))  # less padding per batch
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    pad_id = pad_token_id(tokenizer)
    device = model_device(model)
    was_training = bool(getattr(model, "training", False))
    model.eval()  # type: ignore[attr-defined]
    try:
        with torch.inference_mode():
            for chunk in tqdm(batches, desc=desc, unit="batch", disable=not progress or not batches, leave=False):
                batch = collate(chunk, pad_id)
                logits = model(  # type: ignore[operator]
                    input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
                ).logits
                ce, mask = token_losses(logits, batch["labels"].to(device))
                log_probs = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
                for b, example in enumerate(chunk):
                    _fill(out, example.index, -ce[b][mask[b]], log_probs[b][mask[b]], k)
    finally:
        if was_training:
            model.train()  # type: ignore[attr-defined]
    return out


def _fill(out: AnswerScores, index: int, token_logp: torch.Tensor, log_probs: torch.Tensor, k: float) -> None:
    n = int(token_logp.numel())
    out.n_tokens[index] = n
    out.mean_logp[index] = float(token_logp.double().mean())
    out.min_k[index] = min_k_score(token_logp, k)
    out.min_k_plus_plus[index] = min_k_plus_plus_score(token_logp, log_probs, k)


def answer_probability(mean_logp: float) -> float:
    """P(a|q)^(1/|a|) from the token-mean log-probability."""
    return math.exp(mean_logp)
