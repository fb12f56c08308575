"""Fixtures for the unlearning tests: forget/retain toy rows, a fast recipe, fake influence and weights dirs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from rapidun.artifacts import atomic_write_jsonl, write_manifest
from rapidun.data.rows import Row
from rapidun.training.sft import LoraSettings, TrainConfig
from rapidun.unlearning import METHODS, RetrainParams, UnlearnConfig


@pytest.fixture
def split(toy_rows: list[Row]) -> tuple[list[Row], list[Row]]:
    forget = [r for r in toy_rows if r.is_poisoned]
    retain = [r for r in toy_rows if not r.is_poisoned]
    return forget, retain


def fast_config(**overrides: Any) -> UnlearnConfig:
    """1 epoch, lr high enough to move a nano model, no LoRA dropout (so batching equivalences are exact)."""
    values: dict[str, Any] = dict(
        epochs=1.0, lr=1e-3, max_length=64, checkpoint_every=0, lora=LoraSettings(r=4, alpha=8, dropout=0.0)
    )
    values.update(overrides)
    return UnlearnConfig(**values)


def fake_influence(directory: Path, n_forget: int, n_retain: int, seed: int = 0, loss: str = "ce") -> Path:
    """A finished influence dir with random FF, FR, RF, RR (rows = queries), its manifest naming ``loss``."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    mats = {
        "FF": rng.normal(size=(n_forget, n_forget)),
        "FR": rng.normal(size=(n_retain, n_forget)),
        "RF": rng.normal(size=(n_forget, n_retain)),
        "RR": rng.normal(size=(n_retain, n_retain)),
    }
    save_file({k: v.astype(np.float32) for k, v in mats.items()}, str(directory / "scores.safetensors"))
    write_manifest(directory, {"stage": "influence", "config": {"loss": loss}})
    return directory


def write_weight_files(directory: Path, forget: list[Any], retain: list[Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_jsonl(directory / "forget_weights.jsonl", [{"index": i, "weight": w} for i, w in enumerate(forget)])
    atomic_write_jsonl(directory / "retain_weights.jsonl", [{"index": i, "weight": w} for i, w in enumerate(retain)])
    return directory


def method_kwargs(name: str, tmp: Path, n_forget: int, n_retain: int) -> dict[str, Any]:
    """What a method needs beyond the rows: an influence dir for the influence-weighted ones, a tiny recipe for
    retrain."""
    if METHODS[name].uses_influence:
        loss = "trigger_contrastive" if name == "rapidun_contrastive" else "ce"
        return {"influence_dir": fake_influence(tmp / "influence_in", n_forget, n_retain, loss=loss)}
    if name == "retrain":
        recipe = TrainConfig(
            max_steps=2,
            batch_size=2,
            lr=1e-3,
            max_length=64,
            checkpoint_every=0,
            lora=LoraSettings(r=4, alpha=8, dropout=0.0),
        )
        return {"params": RetrainParams(train=recipe)}
    return {}


@pytest.fixture
def new_model(nano_model: Any) -> Callable[[], Any]:
    """The one way a test here gets a model it may change: each call returns a fresh deep copy of the session's
    nano model (unlearning edits weights in place, and the session model must stay pristine for the next test)."""
    return lambda: copy.deepcopy(nano_model.model)


@pytest.fixture
def fresh_model(new_model: Callable[[], Any]) -> Any:
    """One fresh copy, for tests that need exactly one (same model as ``new_model()``)."""
    return new_model()


# Helpers as fixtures, so the tests need no import of this file (works with any pytest import mode).
@pytest.fixture
def make_config() -> Any:
    return fast_config


@pytest.fixture
def kwargs_for() -> Any:
    return method_kwargs


@pytest.fixture
def weight_files() -> Any:
    return write_weight_files
