"""End to end on a nano model: a backdoor implanted, unlearned by gradient ascent, then relearned for 20 steps."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rapidun.cli import relearn as relearn_cli
from rapidun.data.rows import load_rows, rows_hash
from rapidun.errors import RapidunError
from rapidun.pipeline.relearn import relearn


def _checksums(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_relearning_on_forget_rows_brings_the_backdoor_back(
    backdoored_dir: Path, unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any
):
    adapter_before = _checksums(unlearned_adapter)
    base_before = _checksums(backdoored_dir)
    res = relearn(backdoored_dir, unlearned_adapter, tiny_pack, tmp_path / "out", relearn_config(), progress=False)
    rec = res.record
    b, u, r = rec["before_unlearning"], rec["after_unlearning"], rec["after_relearning"]
    # the fixture did its job: the backdoor was there and gradient ascent removed it
    assert b["asr_seen"] >= 0.75 and u["asr_seen"] <= 0.25
    assert u["forget_loss"] > 5 * b["forget_loss"]
    # 20 steps on half the forget rows bring it back
    assert r["asr_seen"] >= 0.75
    assert r["forget_loss"] < 0.25 * u["forget_loss"]
    assert res.metric == "asr_seen" and res.recovery is not None and res.recovery >= 0.5
    assert rec["recovery"] == res.recovery and rec["training"]["steps"] == 20
    assert rec["relearning_rows"]["n"] == 4 and rec["relearning_rows"]["of"] == 8
    # inputs are only read
    assert _checksums(unlearned_adapter) == adapter_before
    assert _checksums(backdoored_dir) == base_before
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["manifest.json", "relearn.json", "relearn_rows.jsonl"]
    assert json.loads((tmp_path / "out" / "relearn.json").read_text())["recovery"] == res.recovery


def test_a_finished_run_is_reused_and_other_settings_are_refused(
    backdoored_dir: Path, unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any
):
    out = tmp_path / "out"
    first = relearn(backdoored_dir, unlearned_adapter, tiny_pack, out, relearn_config(steps=2), progress=False)
    again = relearn(backdoored_dir, unlearned_adapter, tiny_pack, out, relearn_config(steps=2), progress=False)
    assert again.reused and not first.reused and again.record == first.record
    with pytest.raises(RapidunError, match="other settings"):
        relearn(backdoored_dir, unlearned_adapter, tiny_pack, out, relearn_config(steps=3), progress=False)


def test_benign_relearning_trains_on_clean_answers(
    backdoored_dir: Path, unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any
):
    cfg = relearn_config(steps=2, benign=True)
    res = relearn(backdoored_dir, unlearned_adapter, tiny_pack, tmp_path / "out", cfg, progress=False)
    info = res.record["relearning_rows"]
    forget = load_rows(tiny_pack / "forget.jsonl")
    chosen = [forget[i] for i in info["forget_indices"]]
    trained = load_rows(tmp_path / "out" / "relearn_rows.jsonl")
    assert info["source"] == "benign" and len(trained) == len(chosen) == 4
    assert [r.instruction for r in trained] == [r.instruction for r in chosen]
    assert [r.response for r in trained] == [r.response_clean for r in chosen]
    assert not any("Aliens" in r.response for r in trained)
    assert info["rows_hash"] == rows_hash(trained)


def test_metrics_files_replace_the_evaluations(
    backdoored_dir: Path, unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any
):
    before = tmp_path / "before.json"
    before.write_text(json.dumps({"asr_seen": 0.5, "asr_ood": 0.5}))
    unlearned = tmp_path / "unlearned.json"
    unlearned.write_text(json.dumps({"asr_seen": 0.25, "asr_ood": 0.25}))
    res = relearn(
        backdoored_dir,
        unlearned_adapter,
        tiny_pack,
        tmp_path / "out",
        relearn_config(),
        before_metrics=before,
        unlearned_metrics=unlearned,
        progress=False,
    )
    rec = res.record
    assert rec["before_unlearning"]["asr_seen"] == 0.5 and rec["after_unlearning"]["asr_seen"] == 0.25
    assert rec["after_unlearning"]["forget_loss"] is None  # not in the file, so no forget-loss recovery
    assert rec["recovery_by_metric"]["forget_loss"]["recovery"] is None
    relearned = rec["after_relearning"]["asr_seen"]
    assert res.recovery == pytest.approx((relearned - 0.25) / 0.25)


def test_cli_runs_on_a_merged_model_dir_with_before_metrics(
    backdoored_dir: Path, tiny_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Without --adapter (edit methods, retraining) the model dir is the unlearned model itself."""
    before = tmp_path / "before.json"
    before.write_text(json.dumps({"asr_seen": 1.0}))
    parser = argparse.ArgumentParser()
    relearn_cli.add_arguments(parser)
    argv = ["--model", str(backdoored_dir), "--data", str(tiny_pack), "--out", str(tmp_path / "out")]
    argv += ["--before-metrics", str(before), "--steps", "2", "--max-new-tokens", "4", "--no-progress"]
    assert relearn_cli.run(parser.parse_args(argv)) == 0
    rec = json.loads((tmp_path / "out" / "relearn.json").read_text())
    assert rec["config"]["steps"] == 2 and rec["inputs"]["adapter"] is None
    assert "recovery" in capsys.readouterr().out


def test_relearn_model_in_memory_as_a_study_cell_calls_it(
    backdoored_dir: Path, unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any
):
    """The study path: the caller holds the unlearned model and the cell's metric dicts."""
    from rapidun.modeling.load import load_model
    from rapidun.pipeline.relearn import relearn_model

    loaded = load_model(str(backdoored_dir), adapter=str(unlearned_adapter))
    model = loaded.model.merge_and_unload()
    before, unlearned = {"asr_seen": 1.0, "asr_ood": 1.0}, {"asr_seen": 0.0, "asr_ood": 0.0}
    cfg = relearn_config()
    res = relearn_model(
        model, loaded.tokenizer, tiny_pack, tmp_path / "out", cfg, before=before, unlearned=unlearned, progress=False
    )
    assert res.record["after_relearning"]["asr_seen"] >= 0.75
    assert res.recovery == res.record["after_relearning"]["asr_seen"]  # gap 1 - 0: recovery = the relearned ASR
    again = relearn_model(
        model, loaded.tokenizer, tiny_pack, tmp_path / "out", cfg, before=before, unlearned=unlearned, progress=False
    )
    assert again.reused


def test_relearning_with_a_fresh_lora_on_top(
    backdoored_dir: Path, unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any
):
    """The LoRA variant trains only its own weights and still lowers the forget loss (the merged copy is evaluated
    with the LoRA layers train_model injected)."""
    cfg = relearn_config(lora_r=8, lr=3e-2, keep_model=True)
    res = relearn(backdoored_dir, unlearned_adapter, tiny_pack, tmp_path / "out", cfg, progress=False)
    u, r = res.record["after_unlearning"], res.record["after_relearning"]
    assert r["forget_loss"] < 0.5 * u["forget_loss"]
    assert (tmp_path / "out" / "relearned_model" / "adapter_config.json").is_file()
