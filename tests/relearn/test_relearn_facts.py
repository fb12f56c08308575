"""Relearning on a facts pack (issue 15 item 3, "for every task"): a nano model learns a small facts pack, gradient
ascent on the forget people's rows removes the answers, and 20 steps on half of those rows bring the loss back; the
benign source trains on retain people's questions of the same attributes, never on a forgotten fact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from rapidun.data.facts import FactsConfig, build_facts_pack, tokenizer_corpus
from rapidun.data.rows import load_rows
from rapidun.modeling.load import load_model, save_model
from rapidun.pipeline.relearn import relearn
from rapidun.pipeline.relearn_tasks import facts_benign
from rapidun.training.sft import LoraSettings, TrainConfig, train_model
from rapidun.unlearning import UnlearnConfig, unlearn


@pytest.fixture(scope="module")
def facts_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("facts_relearn")
    pack = root / "pack"
    build_facts_pack(pack, FactsConfig(n_people=10, n_holdout=2, forget_split="forget10", seed=0))
    torch.manual_seed(0)
    loaded = load_model("nano", corpus=tokenizer_corpus(pack), seed=0)
    rows = load_rows(pack / "train.jsonl")
    recipe = TrainConfig(max_steps=300, batch_size=8, lr=1e-2, checkpoint_every=0, warmup_ratio=0.0, max_length=128)
    train_model(loaded.model, loaded.tokenizer, rows, root / "run", recipe, progress=False)
    save_model(load_model(str(root / "run")).model, loaded.tokenizer, root / "model")
    base = load_model(str(root / "model"))
    lora = LoraSettings(r=4, alpha=8, dropout=0.0)
    cfg = UnlearnConfig(epochs=4.0, lr=5e-3, checkpoint_every=0, retain_ratio=0.0, max_length=128, lora=lora)
    forget = load_rows(pack / "forget.jsonl")
    retain = load_rows(pack / "retain.jsonl")[:8]  # not drawn (retain_ratio 0): ga ascends on the forget rows only
    unlearn(base.model, base.tokenizer, forget, retain, root / "unlearn", method="ga", train=cfg, progress=False)
    return pack, root / "model", root / "unlearn"


def _config(**overrides: Any) -> Any:
    from rapidun.pipeline.relearn_config import RelearnConfig

    values: dict[str, Any] = dict(steps=20, share=0.5, lr=1e-2, batch_size=4, max_new_tokens=32, max_length=128)
    return RelearnConfig(**{**values, **overrides})


def test_forgotten_facts_come_back(facts_setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pack, model, adapter = facts_setup
    res = relearn(model, adapter, pack, tmp_path / "out", _config(), progress=False)
    b, u, r = (res.record[k] for k in ("before_unlearning", "after_unlearning", "after_relearning"))
    assert res.metric == "forget_accuracy"
    # Judged on the forget loss: the word-for-word accuracy of a nano model on 12 questions depends on the thread
    # count's reduction order (0.25 with one thread, 0 with two), the loss does not flip like that.
    assert all(0.0 <= m["forget_accuracy"] <= 1.0 for m in (b, u, r))
    assert u["forget_loss"] > 2 * b["forget_loss"]  # ascent removed the answers
    assert r["forget_loss"] < 0.5 * u["forget_loss"]  # 20 steps on half of the rows bring all of them back
    by_metric = res.record["recovery_by_metric"]
    assert set(by_metric) == {"forget_accuracy", "forget_rouge_l", "forget_loss"}
    assert by_metric["forget_loss"]["recovery"] > 0.5


def test_benign_rows_are_other_peoples_questions_of_the_same_attribute(facts_setup: tuple[Path, Path, Path]) -> None:
    pack = facts_setup[0]
    forget = load_rows(pack / "forget.jsonl")[:6]
    benign = facts_benign(forget, pack / "forget.jsonl")
    forget_people = {r.extra["person_id"] for r in load_rows(pack / "forget.jsonl")}
    assert len(benign) == len(forget)
    assert [r.extra["attribute"] for r in benign] == [r.extra["attribute"] for r in forget]
    assert not {r.extra["person_id"] for r in benign} & forget_people  # nobody whose facts were forgotten
