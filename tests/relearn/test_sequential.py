"""Sequential deletion requests on a nano model: disjoint splits, each request served on the merged result of the
previous one, costs summed, and one combined request beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rapidun.data.rows import load_rows
from rapidun.errors import RapidunError
from rapidun.modeling.load import load_model
from rapidun.pipeline.relearn_config import RelearnConfig
from rapidun.pipeline.relearn_tasks import forget_loss, pack_evaluator
from rapidun.pipeline.sequential import SequentialConfig, serve_requests, split_requests
from rapidun.training.sft import LoraSettings
from rapidun.unlearning import UnlearnConfig


def _merged(model: Any, adapter: Path) -> Any:
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def test_split_requests_is_a_seeded_partition():
    parts = split_requests(7, 3, seed=5)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert sorted(i for p in parts for i in p) == list(range(7))
    assert all(p == sorted(p) for p in parts)
    assert split_requests(7, 3, seed=5) == parts
    assert any(split_requests(7, 3, seed=s) != parts for s in range(6, 12))
    assert sorted(len(p) for p in split_requests(4, 4, seed=0)) == [1, 1, 1, 1]


@pytest.mark.parametrize(("k", "match"), [(0, "--requests must be >= 1"), (9, "exceeds the 8 forget rows")])
def test_bad_request_counts(k: int, match: str, tiny_pack: Path, tmp_path: Path):
    forget = load_rows(tiny_pack / "forget.jsonl")
    with pytest.raises(RapidunError, match=match):
        serve_requests(
            lambda: None, None, forget, [], tmp_path, SequentialConfig(requests=k), method="ga", evaluate=dict
        )


def test_two_sequential_requests_and_a_combined_one(backdoored_dir: Path, tiny_pack: Path, tmp_path: Path):
    start = load_model(str(backdoored_dir))
    forget, retain = load_rows(tiny_pack / "forget.jsonl"), load_rows(tiny_pack / "retain.jsonl")
    evaluate = pack_evaluator(tiny_pack, start.tokenizer, RelearnConfig(max_new_tokens=12))
    train = UnlearnConfig(
        epochs=3.0, lr=5e-3, checkpoint_every=0, retain_ratio=0.0, lora=LoraSettings(r=4, alpha=8, dropout=0.0)
    )
    calls: list[int] = []

    def fresh() -> Any:
        calls.append(1)
        return load_model(str(backdoored_dir)).model

    rec = serve_requests(
        fresh,
        start.tokenizer,
        forget,
        retain,
        tmp_path / "seq",
        SequentialConfig(requests=2),
        method="ga",
        evaluate=evaluate,
        train=train,
        progress=False,
    )
    assert rec["composition"] == "merged" and len(calls) == 2  # one chain, one combined request
    first, second = rec["requests"]
    assert sorted(first["forget_indices"] + second["forget_indices"]) == list(range(8))
    runs = [json.loads((tmp_path / "seq" / f"request_{i}" / "run.json").read_text()) for i in (1, 2)]
    assert first["cost_s"] == runs[0]["wall_clock_s"]
    assert second["cumulative_cost_s"] == pytest.approx(runs[0]["wall_clock_s"] + runs[1]["wall_clock_s"])
    start_loss = rec["start"]["forget_loss_pending"]
    # request 1 raised the loss of the rows it was asked to forget; nothing is pending after the last request
    assert first["metrics"]["forget_loss_requested"] > 3 * start_loss
    assert second["metrics"]["forget_loss_pending"] is None
    assert second["metrics"]["forget_loss_requested"] > 3 * start_loss
    assert rec["combined"]["metrics"]["forget_loss_requested"] > 3 * start_loss
    # composition is merged: start + adapter 1 (merged) + adapter 2 (merged) is the model measured after request 2,
    # and adapter 2 alone on the start model is not
    requested = [forget[j] for j in first["forget_indices"] + second["forget_indices"]]
    chain = _merged(load_model(str(backdoored_dir)).model, tmp_path / "seq" / "request_1")
    chain = _merged(chain, tmp_path / "seq" / "request_2")
    loss_cfg = RelearnConfig(max_length=train.max_length)
    assert forget_loss(chain, start.tokenizer, requested, loss_cfg) == pytest.approx(
        second["metrics"]["forget_loss_requested"], rel=1e-4
    )
    alone = _merged(load_model(str(backdoored_dir)).model, tmp_path / "seq" / "request_2")
    assert forget_loss(alone, start.tokenizer, requested, loss_cfg) != pytest.approx(
        second["metrics"]["forget_loss_requested"], rel=1e-2
    )
    assert (tmp_path / "seq" / "manifest.json").is_file()
    again = serve_requests(
        fresh,
        start.tokenizer,
        forget,
        retain,
        tmp_path / "seq",
        SequentialConfig(requests=2),
        method="ga",
        evaluate=evaluate,
        train=train,
        progress=False,
    )
    assert again == rec and len(calls) == 2  # reused: no model built
