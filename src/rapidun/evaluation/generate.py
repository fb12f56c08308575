"""Batched greedy generation with left padding, tokenised exactly like training prompts.

A prompt is ``[BOS] + ids(format_prompt(instruction, context, style))`` with ``add_special_tokens=False``, the
prompt half of :func:`rapidun.data.tokenize.encode_row`, so the model sees at evaluation the very token sequence
it was trained to continue. Rows are sorted by prompt length before batching (less padding) and outputs are
returned in the input order. Decoding is greedy (``do_sample=False``) and therefore deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from rapidun.data.prompt import format_prompt
from rapidun.data.rows import Row
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.modeling.device import model_device

log = logging.getLogger(__name__)


@dataclass
class Generations:
    """Decoded new text per row (input order) and how many prompts were cut from the left to fit."""

    outputs: list[str]
    prompts: list[str]
    truncated: int


def prompt_ids(row: Row, tokenizer: Any, style: str = "alpaca") -> tuple[str, list[int]]:
    """The prompt text and its token ids (BOS + prompt, no other special tokens), as in training."""
    text = format_prompt(row.instruction, row.context, style, tokenizer)
    bos = [tokenizer.bos_token_id] if getattr(tokenizer, "bos_token_id", None) is not None else []
    return text, bos + list(tokenizer(text, add_special_tokens=False)["input_ids"])


def model_max_positions(model: Any, default: int = 2048) -> int:
    """The longest sequence the model accepts (``max_position_embeddings`` when its config has one)."""
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None) if config is not None else None
    return int(value) if isinstance(value, int) and value > 0 else default


def pad_token_id(tokenizer: Any) -> int:
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` (batch, max_len), padding on the left so every prompt ends at the
    last column, where generation continues."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for b, seq in enumerate(sequences):
        if seq:
            ids[b, width - len(seq) :] = torch.tensor(list(seq), dtype=torch.long)
            mask[b, width - len(seq) :] = 1
    return ids, mask


def generate_responses(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    *,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
    prompt_style: str = "alpaca",
    max_prompt_tokens: int | None = None,
    progress: bool = True,
    desc: str = "generate",
) -> Generations:
    """Greedy continuations of each row's prompt: (batch, prompt_len) left-padded inputs -> new tokens only.

    Prompts longer than ``max_prompt_tokens`` (default: the model's positions minus ``max_new_tokens``) keep BOS
    and their last tokens (the end holds the trigger-free response marker and, for suffix triggers, the trigger).
    """
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError("batch_size and max_new_tokens must be >= 1")
    limit = max_prompt_tokens or max(8, model_max_positions(model) - max_new_tokens)
    pad_id = pad_token_id(tokenizer)
    eos_id = getattr(tokenizer, "eos_token_id", None)
    texts: list[str] = []
    encoded: list[list[int]] = []
    truncated = 0
    for row in rows:
        text, ids = prompt_ids(row, tokenizer, prompt_style)
        if len(ids) > limit:
            n_bos = (
                1 if getattr(tokenizer, "bos_token_id", None) is not None and ids[0] == tokenizer.bos_token_id else 0
            )
            ids = ids[:n_bos] + ids[len(ids) - (limit - n_bos) :]
            truncated += 1
        texts.append(text)
        encoded.append(ids)
    if truncated:
        log.warning("%s: %d prompt(s) longer than %d tokens were cut from the left", desc, truncated, limit)
    order = sorted(range(len(rows)), key=lambda i: len(encoded[i]))
    outputs: list[str] = [""] * len(rows)
    device = model_device(model)
    was_training = bool(getattr(model, "training", False))
    model.eval()
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    try:
        with torch.inference_mode():
            for batch in tqdm(batches, desc=desc, unit="batch", disable=not progress or not batches, leave=False):
                input_ids, mask = left_pad([encoded[i] for i in batch], pad_id)
                out = model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=mask.to(device),
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=pad_id,
                    eos_token_id=eos_id,
                    # Silence sampling defaults a checkpoint's generation_config may carry.
                    temperature=None,
                    top_p=None,
                    top_k=None,
                )
                new = out[:, input_ids.shape[1] :].cpu()
                for b, i in enumerate(batch):
                    outputs[i] = tokenizer.decode(new[b].tolist(), skip_special_tokens=True)
    finally:
        if was_training:
            model.train()
    return Generations(outputs=outputs, prompts=texts, truncated=truncated)
