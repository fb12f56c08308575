from __future__ import annotations

import copy

import pytest
import torch

from rapidun.data.rows import Row
from rapidun.data.tokenize import encode_row
from rapidun.evaluation import generate_responses
from rapidun.evaluation.generate import left_pad, prompt_ids
from rapidun.modeling.load import LoadedModel


@pytest.fixture(scope="module")
def chatty(nano_model: LoadedModel) -> LoadedModel:
    """The nano model with large random weights, so greedy outputs differ per prompt (a freshly initialised model
    emits the same token everywhere, which would make batched-vs-single comparisons vacuous)."""
    model = copy.deepcopy(nano_model.model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return LoadedModel(model, nano_model.tokenizer, "nano-chatty", "size")


def test_prompt_tokens_match_training_encoding(nano_model: LoadedModel, toy_rows: list[Row]) -> None:
    tok = nano_model.tokenizer
    for row in toy_rows:
        _, ids = prompt_ids(row, tok)
        enc = encode_row(row, tok, 512)
        assert enc is not None
        train_ids, labels, _ = enc
        n_prompt = sum(1 for x in labels if x == -100)
        assert ids == train_ids[:n_prompt]
        assert ids[0] == tok.bos_token_id


def test_left_pad_puts_padding_first() -> None:
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_batched_generation_equals_one_by_one(chatty: LoadedModel, toy_rows: list[Row]) -> None:
    model, tok = chatty.model, chatty.tokenizer
    batched = generate_responses(model, tok, toy_rows, max_new_tokens=12, batch_size=5, progress=False)
    singles = [
        generate_responses(model, tok, [r], max_new_tokens=12, batch_size=1, progress=False).outputs[0]
        for r in toy_rows
    ]
    assert batched.outputs == singles
    assert len(set(singles)) > 1  # the comparison is not vacuous: prompts of different lengths got padded
    assert batched.truncated == 0


def test_long_prompts_are_cut_from_the_left(chatty: LoadedModel) -> None:
    row = Row("word " * 200 + "end", "x")
    out = generate_responses(
        chatty.model, chatty.tokenizer, [row], max_new_tokens=4, max_prompt_tokens=32, progress=False
    )
    assert out.truncated == 1 and len(out.outputs) == 1


def test_generation_restores_training_mode(chatty: LoadedModel, toy_rows: list[Row]) -> None:
    chatty.model.train()
    generate_responses(chatty.model, chatty.tokenizer, toy_rows[:2], max_new_tokens=2, progress=False)
    assert chatty.model.training
    chatty.model.eval()
