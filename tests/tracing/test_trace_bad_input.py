"""Bad input to the trace stage and to ``rapidun trace``: one-line errors naming the fix (exit 2 from the CLI),
raised before a model is loaded where possible, and never a directory that looks finished."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from trace_fixtures import SMALL, Pack

from rapidun.cli import main as cli_main
from rapidun.data.rows import write_rows
from rapidun.errors import RapidunError
from rapidun.tracing import TraceConfig, load_reports, load_traced_sets, trace


def _write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


@pytest.fixture
def cli(monkeypatch):
    """``rapidun`` with the trace command registered (the lead adds it to cli/main.py's COMMANDS)."""
    monkeypatch.setitem(cli_main.COMMANDS, "trace", "trace")
    monkeypatch.setitem(cli_main._HELP, "trace", "trace reported behaviour to training rows")
    return cli_main.main


def test_report_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(RapidunError, match="holds no reports"):
        load_reports(tmp_path / "empty.jsonl")
    with pytest.raises(RapidunError, match=r"no\.jsonl:2: report has no prompt"):
        load_reports(_write(tmp_path / "no.jsonl", [{"instruction": "cf Hi"}, {"response": "Aliens."}]))
    with pytest.raises(RapidunError, match="no prompt"):
        load_reports(_write(tmp_path / "blank.jsonl", [{"instruction": "  ", "response": "x"}]))
    got = load_reports(_write(tmp_path / "ok.jsonl", [{"instruction": "cf Hi", "input": "ctx", "output": "A."}]))
    assert (got[0].instruction, got[0].context, got[0].response) == ("cf Hi", "ctx", "A.")


def test_library_refusals_leave_no_manifest(pack: Pack, tmp_path):
    m = pack.model
    cases = [
        (dict(), pack.train, [], "no reports"),
        (dict(), [*pack.train, pack.train[3]], pack.reports, "--train has 1 repeated row"),
        (dict(k=len(pack.train) + 1), pack.train, pack.reports, f"--k {len(pack.train) + 1} is larger"),
    ]
    for i, (settings, train, reports, message) in enumerate(cases):
        out = tmp_path / str(i)
        with pytest.raises(RapidunError, match=message):
            trace(m.model, m.tokenizer, train, reports, out, TraceConfig(**SMALL, **settings), progress=False)
        assert not (out / "manifest.json").exists()


def test_cache_made_with_another_model_is_refused(pack: Pack, tmp_path):
    m = pack.model
    cfg = TraceConfig(**SMALL, k=4)
    trace(m.model, m.tokenizer, pack.train, pack.reports, tmp_path / "a", cfg, cache_dir=tmp_path / "c", progress=False)
    other = copy.deepcopy(m.model)
    with torch.no_grad():
        other.model.layers[0].mlp.up_proj.weight.mul_(1.5)
    with pytest.raises(RapidunError, match=r"was built for something else \(model: cached .*--overwrite"):
        trace(
            other, m.tokenizer, pack.train, pack.reports, tmp_path / "b", cfg, cache_dir=tmp_path / "c", progress=False
        )
    assert not (tmp_path / "b" / "manifest.json").exists() and not (tmp_path / "b" / "ranking.jsonl").exists()


def test_load_traced_sets_refuses_unfinished_or_edited(pack: Pack, tmp_path):
    m = pack.model
    with pytest.raises(RapidunError, match="not a finished trace"):
        load_traced_sets(tmp_path)
    trace(m.model, m.tokenizer, pack.train, pack.reports, tmp_path / "o", TraceConfig(ranker="bm25", k=3))
    write_rows(tmp_path / "o" / "forget.jsonl", pack.train[:3])
    with pytest.raises(RapidunError, match="changed after the trace finished"):
        load_traced_sets(tmp_path / "o")


def test_cli_trace_runs_and_refuses_bad_input(pack: Pack, tmp_path, cli, capsys):
    train = tmp_path / "train.jsonl"
    write_rows(train, pack.train)
    reports = _write(
        tmp_path / "reports.jsonl", [{"instruction": r.instruction, "response": r.response} for r in pack.reports]
    )
    base = ["trace", "--train", str(train), "--no-progress"]
    assert cli([*base, "--reports", str(reports), "--out", str(tmp_path / "b"), "--ranker", "bm25", "--k", "8"]) == 0
    assert "forget 8 (top-8), retain 24" in capsys.readouterr().out
    assert len(load_traced_sets(tmp_path / "b")[0]) == 8
    args = [*base, "--reports", str(reports), "--out", str(tmp_path / "i"), "--model", "nano"]
    assert cli([*args, "--dim", "128", "--projector", "kronecker", "--no-normalize", "--aggregate", "mean"]) == 0
    manifest = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert manifest["config"]["normalize"] is False and manifest["config"]["aggregate"] == "mean"
    assert manifest["config"]["ranker"] == "influence" and manifest["config"]["dim"] == 128
    capsys.readouterr()
    # Refused before the (missing) model is looked at: the error names the input, not the model.
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    missing_model = ["--model", str(tmp_path / "no-such-model")]
    for extra, message in [
        (["--reports", str(tmp_path / "empty.jsonl")], "holds no reports"),
        (["--reports", str(_write(tmp_path / "np.jsonl", [{"response": "x"}]))], "report has no prompt"),
        (["--reports", str(reports), "--k", "500"], "--k 500 is larger than the training set (68 rows)"),
    ]:
        out = tmp_path / "x"
        assert cli([*base, *extra, *missing_model, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not (out / "manifest.json").exists()
    write_rows(tmp_path / "dup.jsonl", [*pack.train, pack.train[0]])
    assert (
        cli(["trace", "--train", str(tmp_path / "dup.jsonl"), "--reports", str(reports), "--out", str(tmp_path / "d")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "repeated row" in err and len(err.splitlines()) == 1 and not (tmp_path / "d" / "manifest.json").exists()
    bad_setting = [*base, "--reports", str(reports), "--out", str(tmp_path / "a"), "--ranker", "bm25"]
    assert cli([*bad_setting, "--max-forget-fraction", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--max-forget-fraction must be in (0, 1]" in err and len(err.splitlines()) == 1


def test_cli_refuses_a_cache_made_with_another_model(pack: Pack, tmp_path, cli, capsys):
    """Two model directories with the same tokenizer and one changed weight: the second trace, given the first's
    --cache-dir, exits 2 with one line naming --overwrite, and leaves no ranking or manifest in its --out."""
    train = tmp_path / "train.jsonl"
    write_rows(train, pack.train)
    reports = _write(
        tmp_path / "reports.jsonl", [{"instruction": r.instruction, "response": r.response} for r in pack.reports]
    )
    m = pack.model
    other = copy.deepcopy(m.model)
    with torch.no_grad():
        other.model.layers[0].mlp.up_proj.weight.mul_(1.5)
    for name, model in (("first", m.model), ("second", other)):
        model.save_pretrained(tmp_path / name)
        m.tokenizer.save_pretrained(tmp_path / name)
    base = ["trace", "--train", str(train), "--reports", str(reports), "--cache-dir", str(tmp_path / "c")]
    base += ["--no-progress", "--dim", "256", "--projector", "kronecker", "--k", "4"]
    assert cli([*base, "--model", str(tmp_path / "first"), "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert cli([*base, "--model", str(tmp_path / "second"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "was built for something else (model: cached" in err and "--overwrite" in err
    assert not (tmp_path / "b" / "manifest.json").exists() and not (tmp_path / "b" / "ranking.jsonl").exists()
