"""Bad input: one-line RapidunError naming the flag or file and the fix, raised before any model is loaded where the
input alone shows the problem."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from relearn_fixtures import write_tiny_pack

from rapidun.cli import relearn as relearn_cli
from rapidun.errors import RapidunError
from rapidun.modeling.load import load_model, save_model
from rapidun.pipeline.relearn import relearn

NO_MODEL = "/nonexistent/model"  # loading it would fail with another message: proves the check came first


def _fails(match: str, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(RapidunError, match=match) as info:
        relearn(*args, progress=False, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("steps", ["0", "-2"])
def test_cli_steps_not_positive_is_one_line(steps: str, tiny_pack: Path, tmp_path: Path):
    parser = argparse.ArgumentParser()
    relearn_cli.add_arguments(parser)
    args = parser.parse_args(["--model", NO_MODEL, "--data", str(tiny_pack), "--out", str(tmp_path), "--steps", steps])
    with pytest.raises(RapidunError, match=r"^--steps must be >= 1") as info:
        relearn_cli.run(args)
    assert "\n" not in str(info.value)


def test_pack_without_forget_rows(tmp_path: Path, relearn_config: Any):
    pack = write_tiny_pack(tmp_path / "pack", forget=False)
    _fails(r"forget.jsonl' holds no rows", NO_MODEL, None, pack, tmp_path / "out", relearn_config())


def test_missing_forget_split_names_the_flag(tiny_pack: Path, tmp_path: Path, relearn_config: Any):
    _fails(
        r"no forget10.jsonl.*--forget-split",
        NO_MODEL,
        None,
        tiny_pack,
        tmp_path / "o",
        relearn_config(forget_split="forget10"),
    )


def test_unfinished_pack(tmp_path: Path, relearn_config: Any):
    pack = write_tiny_pack(tmp_path / "pack")
    (pack / "manifest.json").unlink()
    _fails("unfinished pack", NO_MODEL, None, pack, tmp_path / "out", relearn_config())


def test_facts_pack_without_facts_rows_fails_before_the_model(tmp_path: Path, relearn_config: Any):
    pack = write_tiny_pack(tmp_path / "pack", task="facts")  # labelled facts, rows of a backdoor pack
    _fails("paraphrased_answer", NO_MODEL, None, pack, tmp_path / "out", relearn_config())


def test_unknown_task(tmp_path: Path, relearn_config: Any):
    pack = write_tiny_pack(tmp_path / "pack", task="poetry")
    _fails("task 'poetry'", NO_MODEL, None, pack, tmp_path / "out", relearn_config())


def test_not_an_adapter_dir(tiny_pack: Path, tmp_path: Path, relearn_config: Any):
    _fails("not a PEFT adapter directory", NO_MODEL, tmp_path, tiny_pack, tmp_path / "out", relearn_config())


def test_merged_model_without_before_metrics(tiny_pack: Path, tmp_path: Path, relearn_config: Any):
    _fails("--before-metrics", NO_MODEL, None, tiny_pack, tmp_path / "out", relearn_config())


def test_before_metrics_without_the_main_metric(tiny_pack: Path, tmp_path: Path, relearn_config: Any):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"accuracy": 0.3}))
    _fails("has no 'asr_seen'", NO_MODEL, None, tiny_pack, tmp_path / "out", relearn_config(), before_metrics=bad)


def test_out_dir_is_the_adapter_dir(unlearned_adapter: Path, tiny_pack: Path, relearn_config: Any):
    _fails("is the --adapter directory", NO_MODEL, unlearned_adapter, tiny_pack, unlearned_adapter, relearn_config())
    assert json.loads((unlearned_adapter / "manifest.json").read_text()).get("stage") != "relearn"


def test_adapter_for_another_base(unlearned_adapter: Path, tiny_pack: Path, tmp_path: Path, relearn_config: Any):
    """The unlearning adapter was trained on a nano model; a tiny model (other hidden size) is refused."""
    other = load_model("tiny", corpus=["some text for a tokenizer", "and more text"], seed=0)
    save_model(other.model, other.tokenizer, tmp_path / "tiny")
    before = tmp_path / "before.json"
    before.write_text(json.dumps({"asr_seen": 1.0}))
    msg = _fails(
        "does not fit this model",
        tmp_path / "tiny",
        unlearned_adapter,
        tiny_pack,
        tmp_path / "out",
        relearn_config(),
        before_metrics=before,
    )
    assert "--model" in msg
    assert not (tmp_path / "out" / "relearn.json").exists()


def test_main_turns_steps_zero_into_exit_2_and_one_line(
    tiny_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """The lead adds "relearn" to cli/main.py's COMMANDS; until then the test registers it itself."""
    from rapidun.cli import main as cli_main

    monkeypatch.setitem(cli_main.COMMANDS, "relearn", "relearn")
    monkeypatch.setitem(cli_main._HELP, "relearn", relearn_cli.HELP)
    argv = ["relearn", "--model", NO_MODEL, "--data", str(tiny_pack), "--out", str(tmp_path / "o"), "--steps", "0"]
    assert cli_main.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rapidun relearn: error: --steps must be >= 1") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_benign_without_clean_answers_fails_before_loading(tmp_path: Path, relearn_config: Any):
    from rapidun.data.rows import load_rows, write_rows

    pack = write_tiny_pack(tmp_path / "pack")
    rows = [replace(r, response_clean=None) for r in load_rows(pack / "forget.jsonl")]
    write_rows(pack / "forget.jsonl", rows)
    _fails("response_clean", NO_MODEL, None, pack, tmp_path / "out", relearn_config(benign=True))


def test_more_rows_than_the_forget_set(tiny_pack: Path, tmp_path: Path, relearn_config: Any):
    _fails(r"--rows 9 exceeds the 8 rows", NO_MODEL, None, tiny_pack, tmp_path / "out", relearn_config(rows=9))
