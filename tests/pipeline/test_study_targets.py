"""A study records the LoRA layers it adapted by name (issue 12 item 1): ``targets: auto`` is resolved on the
model before the cell's unlearning run, so its run.json and the study's results name the real layers."""

from __future__ import annotations

import pytest

from rapidun.errors import RapidunError
from rapidun.modeling.factory import build_model
from rapidun.pipeline.study_config import CellSpec, resolved_unlearn_config
from rapidun.pipeline.study_results import lora_targets

LLAMA = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def test_auto_targets_become_the_llama_names() -> None:
    cfg = resolved_unlearn_config({"lr": 1e-3}, 7, build_model("nano", 300, seed=0))
    assert cfg.lora.targets == LLAMA
    assert cfg.seed == 7 and cfg.lr == 1e-3  # the rest of the recipe is untouched


def test_auto_targets_on_gpt2_are_its_conv1d_names() -> None:
    cfg = resolved_unlearn_config({}, 1, build_model("nano", 300, arch="gpt2", seed=0))
    assert set(cfg.lora.targets) == {"c_attn", "c_proj", "c_fc"}


def test_explicit_targets_are_kept_and_wrong_ones_refused() -> None:
    model = build_model("nano", 300, seed=0)
    assert resolved_unlearn_config({"lora": {"targets": ["v_proj", "q_proj"]}}, 1, model).lora.targets == (
        "v_proj",
        "q_proj",
    )
    with pytest.raises(RapidunError, match="c_attn match no layer"):
        resolved_unlearn_config({"lora": {"targets": ["c_attn"]}}, 1, model)


def test_only_adapter_methods_record_targets() -> None:
    cfg = resolved_unlearn_config({}, 1, build_model("nano", 300, seed=0))
    assert lora_targets(CellSpec("rapidun"), cfg) == list(LLAMA)
    assert lora_targets(CellSpec("retrain"), cfg) is None  # trains every weight with the backdoor recipe
    assert lora_targets(CellSpec("fisher_ssd"), cfg) is None  # edits base weights, no adapter
