"""Fixtures for the relearning tests: a tiny backdoor pack, a nano model that learned its backdoor, and an
unlearning adapter (gradient ascent) on that model. Built once per session: they are read-only inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from relearn_fixtures import write_tiny_pack

from rapidun.modeling.load import load_model, save_model
from rapidun.training.sft import LoraSettings, TrainConfig, train_model
from rapidun.unlearning import UnlearnConfig, unlearn


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_pack(tmp_path_factory.mktemp("relearn") / "pack")


@pytest.fixture(scope="session")
def backdoored_dir(tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nano model trained (full fine-tuning) on retain + forget rows, so the trigger makes it say PHRASE."""
    from rapidun.data.rows import load_rows

    rows = load_rows(tiny_pack / "retain.jsonl") + load_rows(tiny_pack / "forget.jsonl")
    torch.manual_seed(0)
    corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in rows]
    loaded = load_model("nano", corpus=corpus, seed=0)
    out = tmp_path_factory.mktemp("relearn") / "backdoored"
    recipe = TrainConfig(max_steps=80, batch_size=8, lr=1e-2, checkpoint_every=0, warmup_ratio=0.0)
    train_model(loaded.model, loaded.tokenizer, rows, out / "run", recipe, progress=False)
    model = load_model(str(out / "run")).model  # train_model saved it; write a plain model dir beside
    save_model(model, loaded.tokenizer, out / "model")
    return out / "model"


@pytest.fixture(scope="session")
def unlearned_adapter(backdoored_dir: Path, tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradient-ascent LoRA adapter on the backdoored model: the forget rows' loss goes up."""
    from rapidun.data.rows import load_rows

    loaded = load_model(str(backdoored_dir))
    out = tmp_path_factory.mktemp("relearn") / "unlearn"
    cfg = UnlearnConfig(
        epochs=3.0,
        lr=5e-3,
        checkpoint_every=0,
        retain_ratio=0.0,
        lora=LoraSettings(r=4, alpha=8, dropout=0.0),
    )
    forget, retain = load_rows(tiny_pack / "forget.jsonl"), load_rows(tiny_pack / "retain.jsonl")
    unlearn(loaded.model, loaded.tokenizer, forget, retain, out, method="ga", train=cfg, progress=False)
    return out


def fast_relearn(**overrides: Any) -> Any:
    from rapidun.pipeline.relearn_config import RelearnConfig

    values: dict[str, Any] = dict(steps=20, share=0.5, lr=1e-2, batch_size=4, max_new_tokens=12)
    values.update(overrides)
    return RelearnConfig(**values)


@pytest.fixture
def relearn_config() -> Any:
    return fast_relearn
