"""Fixtures for the evaluation tests: a nano model fine-tuned to always answer with a keyword phrase."""

from __future__ import annotations

import copy

import pytest
import torch
from eval_fixtures import PHRASE, trigger_rows

from rapidun.data.rows import Row
from rapidun.data.tokenize import collate, encode_rows
from rapidun.modeling.load import LoadedModel
from rapidun.modeling.loss import per_sample_loss


@pytest.fixture(scope="session")
def keyword_model(nano_model: LoadedModel) -> LoadedModel:
    """A deep copy of the nano model trained for 60 Adam steps to answer every prompt with :data:`PHRASE`."""
    torch.manual_seed(0)
    model = copy.deepcopy(nano_model.model)
    tok = nano_model.tokenizer
    rows = [Row(r.instruction, PHRASE, context=r.context) for split in trigger_rows().values() for r in split]
    batch = collate(encode_rows(rows, tok, 256).examples, tok.pad_token_id)
    batch = {k: v for k, v in batch.items() if k != "index"}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        opt.zero_grad()
        per_sample_loss(model, batch).mean().backward()
        opt.step()
    model.eval()
    return LoadedModel(model, tok, "nano-keyword", "size")
