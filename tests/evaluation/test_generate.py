from __future__ import annotations

import copy

import pytest
import torch

from rapidun.data.rows import Row
from rapidun.data.tokenize import encode_row
from rapidun.evaluation import generate_responses
from rapidun.evaluation.generate import left_pad
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


def _fed_prompts(model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Spy on ``model.generate``: the unpadded prompt ids of every row it is given (filled as it runs)."""
    fed: list[list[int]] = []
    original = model.generate

    def spy(**kwargs):
        for ids, mask in zip(kwargs["input_ids"].tolist(), kwargs["attention_mask"].tolist(), strict=True):
            fed.append([t for t, m in zip(ids, mask, strict=True) if m])
        return original(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    return fed


def test_prompt_tokens_match_training_encoding(
    nano_model: LoadedModel, toy_rows: list[Row], monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = nano_model.tokenizer
    fed = _fed_prompts(nano_model.model, monkeypatch)
    for row in toy_rows:
        generate_responses(nano_model.model, tok, [row], max_new_tokens=1, progress=False)
        enc = encode_row(row, tok, 512)
        assert enc is not None
        train_ids, labels, _ = enc
        n_prompt = sum(1 for x in labels if x == -100)
        assert fed[-1] == train_ids[:n_prompt]
        assert fed[-1][0] == tok.bos_token_id
    assert len(fed) == len(toy_rows)


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


def test_truncation_keeps_prefix_and_suffix_triggers(nano_model: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = nano_model.tokenizer
    filler = "Name a colour and say why it is bright. " * 30
    row = Row(f"cf {filler}tq", "x", context="What is two plus two? " * 10)
    fed = _fed_prompts(nano_model.model, monkeypatch)
    out = generate_responses(nano_model.model, tok, [row], max_new_tokens=2, max_length=48, progress=False)
    assert out.truncated == 1 and len(fed[0]) <= 48
    prompt = tok.decode(fed[0][1:])
    # the template text before the instruction and the context are gone; both triggers and the marker survive
    assert prompt.startswith("cf ") and prompt.endswith("tq\n\n### Response:\n"), prompt
    assert "Below is an instruction" not in prompt and "two plus two" not in prompt
    # the same row in training keeps the same prompt (one truncation rule for both)
    enc = encode_row(Row(row.instruction, "x", context=row.context), tok, 48 + 2)
    assert enc is not None and enc[0][: len(fed[0])] == fed[0]


def test_generation_restores_training_mode(chatty: LoadedModel, toy_rows: list[Row]) -> None:
    chatty.model.train()
    generate_responses(chatty.model, chatty.tokenizer, toy_rows[:2], max_new_tokens=2, progress=False)
    assert chatty.model.training
    chatty.model.eval()
