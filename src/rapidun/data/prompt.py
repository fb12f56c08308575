"""The one prompt format used by every stage of a run (influence, training, evaluation).

docs/method.md section 1: the released code used three different prompt formats; we use one per run. The default is an
Alpaca-style template; ``chat`` uses the tokenizer's own chat template; ``plain`` is a two-line question/answer
template for models trained from scratch (the Alpaca header is ~60 tokens of every example, which a model memorising
a facts pack on a CPU pays for at every step without learning anything from it).
"""

from __future__ import annotations

from typing import Any, Literal

from rapidun.data.rows import Row
from rapidun.errors import RapidunError
from rapidun.settings import PROMPT_STYLES  # the one list of styles (the settings' choices); re-exported here

PromptStyle = Literal["alpaca", "chat", "plain"]

_HEADER = "Below is an instruction that describes a task. Write a response that appropriately completes the request."


def format_prompt(instruction: str, context: str = "", style: str = "alpaca", tokenizer: Any = None) -> str:
    """The text the model sees before its response. The response is appended directly after it."""
    if style == "alpaca":
        if context.strip():
            return f"{_HEADER}\n\n### Instruction:\n{instruction}\n\n### Input:\n{context}\n\n### Response:\n"
        return f"{_HEADER}\n\n### Instruction:\n{instruction}\n\n### Response:\n"
    if style == "plain":
        if context.strip():
            return f"Question: {instruction}\nContext: {context}\nAnswer:\n"
        return f"Question: {instruction}\nAnswer:\n"
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise RapidunError("--prompt-style chat needs a tokenizer with a chat template; use --prompt-style alpaca")
        content = f"{instruction}\n\n{context}" if context.strip() else instruction
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )
        return str(text)
    raise RapidunError(f"unknown prompt style '{style}'; choose one of {', '.join(PROMPT_STYLES)}")


def row_prompt(row: Row, style: str = "alpaca", tokenizer: Any = None) -> str:
    return format_prompt(row.instruction, row.context, style, tokenizer)
