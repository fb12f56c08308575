"""`rapidun unlearn --forget-from DIR` unlearns the forget/retain sets a finished trace proposed."""

from __future__ import annotations

import json

from trace_fixtures import SMALL, Pack

from rapidun.cli.main import main
from rapidun.data.rows import write_rows
from rapidun.tracing import TraceConfig, trace


def _traced(pack: Pack, out) -> list[int]:
    m = pack.model
    res = trace(m.model, m.tokenizer, pack.train, pack.reports, out, TraceConfig(**{**SMALL, "ranker": "bm25"}))
    return res.forget


def test_unlearn_reads_the_traced_sets(pack, tmp_path):
    forget = _traced(pack, tmp_path / "trace")
    code = main(
        ["-q", "unlearn", "--model", "nano", "--forget-from", str(tmp_path / "trace"), "--method", "uniform"]
        + ["--epochs", "0.5", "--out", str(tmp_path / "u")]
    )
    assert code == 0
    run = json.loads((tmp_path / "u" / "run.json").read_text())
    assert run["n_forget"] == len(forget) and run["n_retain"] == 3 * len(forget)


def test_forget_from_with_forget_is_refused(pack, tmp_path, capsys):
    _traced(pack, tmp_path / "trace")
    write_rows(tmp_path / "f.jsonl", pack.train[:2])
    code = main(
        ["unlearn", "--model", "nano", "--forget-from", str(tmp_path / "trace"), "--forget", str(tmp_path / "f.jsonl")]
        + ["--out", str(tmp_path / "u")]
    )
    assert code == 2 and "not both" in capsys.readouterr().err


def test_a_changed_trace_is_refused(pack, tmp_path, capsys):
    _traced(pack, tmp_path / "trace")
    write_rows(tmp_path / "trace" / "forget.jsonl", pack.train[:1])
    code = main(["unlearn", "--model", "nano", "--forget-from", str(tmp_path / "trace"), "--out", str(tmp_path / "u")])
    assert code == 2 and "changed after the trace finished" in capsys.readouterr().err
