"""Batched greedy generation with left padding, tokenised and truncated exactly like training prompts.

A prompt is ``[BOS] + ids(format_prompt(instruction, context, style))`` with ``add_special_tokens=False``, the
prompt half of :func:`rapidun.data.tokenize.encode_row`, so the model sees at evaluation the very token sequence
it was trained to continue. A prompt longer than the limit is cut by the training rule itself
(:func:`rapidun.data.tokenize.fit_prompt`: context, then template text, then the instruction's middle, so prefix
and suffix triggers both survive; docs/method.md sections 1 and 6). Rows are sorted by prompt length before
batching (less padding) and outputs are returned in the input order. Decoding is greedy (``do_sample=False``) and
therefore deterministic.
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
from rapidun.data.tokenize import fit_prompt
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.modeling.device import model_device

log = logging.getLogger(__name__)


@dataclass
class Generations:
    """Decoded new text per row (input order), the full prompt texts, and how many prompts were truncated to fit."""

    outputs: list[str]
    prompts: list[str]
    truncated: int


def model_max_positions(model: Any, default: int = 2048) -> int:
    """The longest sequence the model accepts (``max_position_embeddings`` when its config has one)."""
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None) if config is not None else None
    return int(value) if isinstance(value, int) and value > 0 else default


def prompt_limit(model: Any, max_new_tokens: int, max_length: int | None = None) -> int:
    """The longest prompt (in tokens) evaluation feeds the model: at most ``max_length``, the length the model was
    trained at (no training prompt was longer), and room for ``max_new_tokens`` within the model's positions."""
    room = max(8, model_max_positions(model) - max_new_tokens)
    return min(room, max_length) if max_length is not None else room


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
    max_length: int | None = None,
    progress: bool = True,
    desc: str = "generate",
) -> Generations:
    """Greedy continuations of each row's prompt: (batch, prompt_len) left-padded inputs -> new tokens only.

    Prompts longer than ``max_prompt_tokens`` (default: :func:`prompt_limit` of ``max_length``, the training
    length) are cut as training cuts them (:func:`rapidun.data.tokenize.fit_prompt`).
    """
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError("batch_size and max_new_tokens must be >= 1")
    limit = max_prompt_tokens or prompt_limit(model, max_new_tokens, max_length)
    pad_id = pad_token_id(tokenizer)
    eos_id = getattr(tokenizer, "eos_token_id", None)
    texts = [format_prompt(row.instruction, row.context, prompt_style, tokenizer) for row in rows]
    fitted = [fit_prompt(tokenizer, row.instruction, row.context, prompt_style, limit) for row in rows]
    encoded = [ids for ids, _ in fitted]
    truncated = sum(cut for _, cut in fitted)
    if truncated:
        log.warning(
            "%s: %d prompt(s) longer than %d tokens were truncated as in training (context, template text, then "
            "the instruction's middle)",
            desc,
            truncated,
            limit,
        )
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
