"""Checkpoint selection reads the validation files only: with every test file unreadable and every file read
recorded, the selection evaluation still works and opened no test file. And rapidun evaluate caps prompts at the
length the model was trained at."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from eval_fixtures import PHRASE, trigger_rows, write_pack

from rapidun.data.rows import Row
from rapidun.errors import RapidunError
from rapidun.evaluation.validation import validation_eval_fn
from rapidun.modeling.load import LoadedModel

TEST_FILES = ("test_seen.jsonl", "test_ood.jsonl", "test_clean.jsonl")


def _val_pack(directory: Path) -> Path:
    """The fixture pack plus triggered validation files, its test files made unparsable."""
    write_pack(directory)
    rows = trigger_rows()
    for name, split in (("val_seen.jsonl", "seen"), ("val_ood.jsonl", "ood")):
        shifted = [Row(r.instruction.replace("?", "!"), PHRASE, **_tags(r)) for r in rows[split]]
        (directory / name).write_text("".join(json.dumps(r.to_dict()) + "\n" for r in shifted))
    for name in TEST_FILES:
        (directory / name).write_text("not json, and reading it is an error\n")
    return directory


def _tags(row: Row) -> dict[str, str | None]:
    return {"trigger_family": row.trigger_family, "trigger_variant": row.trigger_variant}


def test_selection_reads_validation_files_only(
    nano_model: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _val_pack(tmp_path / "pack")
    opened: list[str] = []
    read_text = Path.read_text

    def spy(self: Path, *args, **kwargs) -> str:
        opened.append(self.name)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    eval_fn = validation_eval_fn(data, nano_model.tokenizer, max_new_tokens=4, batch_size=4, max_length=64)
    metrics = eval_fn(nano_model.model)
    assert set(metrics) == {"asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl", "seconds", "counts", "successes"}
    assert metrics["asr_seen"] == 0.0 and math.isfinite(metrics["clean_ppl"])
    assert {"val_seen.jsonl", "val_ood.jsonl", "val.jsonl"} <= set(opened)
    assert not set(opened) & set(TEST_FILES), opened


def test_a_pack_without_triggered_validation_files_is_one_clear_error(nano_model: LoadedModel, tmp_path: Path) -> None:
    data = write_pack(tmp_path / "old")
    with pytest.raises(RapidunError, match="lacks val_seen.jsonl, val_ood.jsonl"):
        validation_eval_fn(data, nano_model.tokenizer)


def test_evaluate_dir_caps_at_the_training_length_from_the_manifest(nano_model: LoadedModel, tmp_path: Path) -> None:
    from rapidun.artifacts import write_manifest
    from rapidun.evaluation import directory
    from rapidun.modeling.load import save_model

    model_dir = tmp_path / "model"
    save_model(nano_model.model, nano_model.tokenizer, model_dir)
    write_manifest(model_dir, {"kind": "train", "config": {"max_length": 24}})
    assert directory.trained_max_length(str(model_dir), None) == 24
    assert directory.trained_max_length("nano", None) is None  # not a rapidun-trained directory: no cap known
    pack = write_pack(tmp_path / "pack")
    metrics = directory.evaluate_dir(
        str(model_dir), pack, tmp_path / "eval", max_new_tokens=2, batch_size=4, device="cpu", progress=False
    )
    # every fixture prompt (template header included) is longer than 24 tokens, so each one was truncated
    assert metrics["max_length"] == 24 and metrics["prompts_truncated"] == {"seen": 4, "ood": 4, "clean": 4}
    assert json.loads((tmp_path / "eval" / "manifest.json").read_text())["config"]["max_length"] == 24
