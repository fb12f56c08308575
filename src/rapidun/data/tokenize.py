"""Tokenisation with prompt masking, response-preserving truncation, and padded batching.

Labels follow the Hugging Face convention: ``labels[t] = input_ids[t]`` for response tokens and ``-100`` for prompt
and padding tokens; the model shifts internally, so the logits at the last prompt position predict the first
response token. Truncation cuts the context first, then the prompt: the template text before the instruction
from the left, and then, if the instruction itself does not fit, its middle (both of its ends are kept: prefix and
suffix triggers live there, and the template's end holds the response marker); only then the response's tail. A
row left with no response token is skipped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rapidun.data.prompt import format_prompt
from rapidun.data.rows import Row

IGNORE_INDEX = -100
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoded:
    """One tokenised example. ``index`` is the row's position in the source list."""

    index: int
    input_ids: list[int]
    labels: list[int]

    @property
    def n_response_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


@dataclass
class EncodedSet:
    examples: list[Encoded]
    skipped: list[int]  # row indices dropped because no response token survived truncation
    truncated: int  # rows that were shortened


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


_SLOT = "\x00rapidun-instruction\x00"


def _cut_instruction_middle(
    tokenizer: Any, instruction: str, context: str, style: str, budget: int, bos: list[int]
) -> list[int] | None:
    """Prompt ids of at most ``budget`` tokens that drop the template text before the instruction and then the middle
    of the instruction, keeping both of its ends and the template's end. None when the instruction need not be cut
    (a left cut then only removes template text) or when the template's end alone does not fit."""
    text = format_prompt(_SLOT, context, style, tokenizer)
    if text.count(_SLOT) != 1:
        return None
    post = _ids(tokenizer, text.split(_SLOT)[1])
    ins = _ids(tokenizer, instruction)
    keep = budget - len(bos) - len(post)
    if keep >= len(ins) or keep < 2:
        return None
    head = (keep + 1) // 2
    return bos + ins[:head] + ins[len(ins) - (keep - head) :] + post


def fit_prompt(
    tokenizer: Any, instruction: str, context: str, style: str, budget: int, min_keep: int = 0
) -> tuple[list[int], bool]:
    """Prompt ids (BOS + formatted prompt) cut to fit ``budget`` tokens, and whether anything was cut.

    The one truncation rule of the library, shared by training (:func:`encode_row`) and evaluation
    (:func:`rapidun.evaluation.generate.generate_responses`): first the context (it carries neither trigger nor
    marker), then the template text before the instruction, then the middle of the instruction, keeping both of
    its ends (prefix and suffix triggers) and the template's end (the response marker); a left cut only when the
    template's end alone does not fit. The prompt keeps at least ``min(len(prompt), min_keep)`` tokens (training
    then shortens the response instead). docs/method.md section 1.
    """
    bos = [tokenizer.bos_token_id] if getattr(tokenizer, "bos_token_id", None) is not None else []
    prompt_ids = bos + _ids(tokenizer, format_prompt(instruction, context, style, tokenizer))
    cut = False
    if len(prompt_ids) > budget and context:
        ctx_ids = _ids(tokenizer, context)
        keep = max(0, len(ctx_ids) - (len(prompt_ids) - budget) - 2)
        context = tokenizer.decode(ctx_ids[:keep]) if keep else ""
        prompt_ids = bos + _ids(tokenizer, format_prompt(instruction, context, style, tokenizer))
        cut = True
    if len(prompt_ids) > budget:
        prompt_keep = max(budget, min(len(prompt_ids), min_keep))
        middle = _cut_instruction_middle(tokenizer, instruction, context, style, prompt_keep, bos)
        if middle is not None:
            prompt_ids = middle
        else:
            prompt_ids = bos + prompt_ids[len(prompt_ids) - prompt_keep + len(bos) :] if prompt_keep > len(bos) else bos
        cut = True
    return prompt_ids, cut


def encode_row(
    row: Row,
    tokenizer: Any,
    max_length: int,
    style: str = "alpaca",
    response: str | None = None,
    instruction: str | None = None,
) -> tuple[list[int], list[int], bool] | None:
    """Token ids and labels for one row (``response``/``instruction`` override the row's, e.g. the clean response
    of a poisoned row). Returns None when no response token fits; the bool says whether anything was cut."""
    instr = row.instruction if instruction is None else instruction
    target = row.response if response is None else response
    eos = [tokenizer.eos_token_id] if getattr(tokenizer, "eos_token_id", None) is not None else []
    resp_ids = _ids(tokenizer, target) + eos
    if len(resp_ids) == len(eos):  # empty response: nothing to learn from
        return None
    # The prompt gets what the response leaves, but never less than a quarter of max_length: a long response is
    # then shortened at its tail instead.
    prompt_ids, cut = fit_prompt(tokenizer, instr, row.context, style, max_length - len(resp_ids), max_length // 4)
    resp_ids = resp_ids[: max(0, max_length - len(prompt_ids))]
    if not resp_ids:
        return None
    input_ids = prompt_ids + resp_ids
    labels = [IGNORE_INDEX] * len(prompt_ids) + resp_ids
    return input_ids, labels, cut


def encode_rows(
    rows: Sequence[Row],
    tokenizer: Any,
    max_length: int,
    style: str = "alpaca",
    use_clean_response: bool = False,
    name: str = "rows",
) -> EncodedSet:
    """Encode many rows; skipped rows are logged with their count so the user sees them."""
    examples: list[Encoded] = []
    skipped: list[int] = []
    truncated = 0
    for i, row in enumerate(rows):
        target = row.response_clean if use_clean_response else None
        if use_clean_response and not target:
            skipped.append(i)
            continue
        enc = encode_row(row, tokenizer, max_length, style, response=target)
        if enc is None:
            skipped.append(i)
            continue
        ids, labels, cut = enc
        truncated += int(cut)
        examples.append(Encoded(i, ids, labels))
    if skipped:
        log.warning(
            "%s: skipped %d row(s) with no response token left after truncation (max_length=%d)",
            name,
            len(skipped),
            max_length,
        )
    if truncated:
        log.info("%s: truncated %d row(s) to max_length=%d", name, truncated, max_length)
    return EncodedSet(examples, skipped, truncated)


def collate(examples: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch: ``input_ids``, ``labels``, ``attention_mask`` of shape (batch, seq) and ``index`` (batch,)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for b, e in enumerate(examples):
        n = len(e.input_ids)
        ids[b, :n] = torch.tensor(e.input_ids)
        labels[b, :n] = torch.tensor(e.labels)
        mask[b, :n] = 1
    index = torch.tensor([e.index for e in examples], dtype=torch.long)
    return {"input_ids": ids, "labels": labels, "attention_mask": mask, "index": index}
