"""``--gradient-checkpointing`` on train recomputes activations and changes no number."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from rapidun.training.sft import LoraSettings, TrainConfig, train_model


@pytest.mark.parametrize("lora", [None, LoraSettings(r=4, alpha=8, dropout=0.0)])
def test_checkpointing_gives_the_same_losses(nano_model, toy_rows, tmp_path: Path, lora) -> None:
    losses = []
    for flag in (False, True):
        cfg = TrainConfig(max_steps=3, batch_size=4, max_length=48, lora=lora, checkpoint_every=0)
        cfg = TrainConfig(**{**cfg.__dict__, "gradient_checkpointing": flag})
        model = copy.deepcopy(nano_model.model).train()
        res = train_model(model, nano_model.tokenizer, toy_rows, tmp_path / str(flag), cfg, progress=False)
        losses.append(res.run["losses"])
        assert json.loads((tmp_path / str(flag) / "run.json").read_text())["config"]["gradient_checkpointing"] is flag
    assert len(losses[0]) == 3
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
