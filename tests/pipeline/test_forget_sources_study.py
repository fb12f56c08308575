"""A study whose cells unlearn traced forget sets (docs/method.md section 7, "Forget sources"): config validation
(a bad source spec is one line naming the key), and a tiny end-to-end study on ``nano`` with an oracle and a traced
source (cell directories, results.json, results.csv and the frontier's ``sources`` block name the source; a rerun
reuses the trace)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rapidun.errors import RapidunError
from rapidun.pipeline.study_config import study_config

SOURCES = [
    {"name": "oracle", "kind": "oracle"},
    # a 1-epoch nano model hardly misbehaves, so its reports are every drawn prompt (the default draws misbehaving ones)
    {"name": "infl4", "kind": "trace", "reports": 4, "k_factor": 1, "reports_from": "any"},
]


def _config() -> dict:
    return {
        "name": "sources-nano",
        "model": "nano",
        "datasets": [
            {
                "name": "toy",
                "source": "synthetic",
                "n_rows": 120,
                "poison_rate": 0.2,
                "seed": 3,
                "n_val": 10,
                "n_test": 10,
                "n_forget": 4,
            }
        ],
        "backdoor": {"epochs": 1, "batch_size": 16, "lr": 6e-3, "max_length": 64, "checkpoint_every": 0},
        "retrain": False,
        "methods": [],
        "seeds": [1],
        "unlearn": {"max_length": 64, "epochs": 0.5, "checkpoint_every": 0},
        "evaluation": {"max_new_tokens": 4, "max_eval": 8, "batch_size": 16},
        "frontier": {"budgets": [1.1], "sweep": {"uniform": {"lr": [1e-4, 3e-3]}}, "n_resamples": 200},
        "forget_sources": SOURCES,
    }


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ({"name": "x", "kind": "traced"}, "kind must be one of oracle, trace"),
        ({"name": "x", "ranker": "bm26"}, "ranker must be one of"),
        ({"name": "x", "k": 3, "k_factor": 1}, "give k or k_factor, not both"),
        ({"name": "x", "reports": 0}, "reports must be at least 1"),
        ({"name": "x", "split": "test"}, "split must be one of seen, ood"),
        ({"name": "x", "families": ["Z_nope"]}, "not among dataset 'toy''s trigger families"),
        ({"name": "x", "trace": {"aggregate": "sum"}}, "aggregate must be one of"),
        ({"name": "x", "trace": {"k": 4}}, "set 'k' on the source itself"),
        ({"name": "a/b"}, "must be letters, digits"),
        ({"name": "x", "colour": 1}, "colour"),
        ({"name": "x", "reports_from": "all"}, "reports_from must be one of fired, any"),
        ({"name": "x", "retain_from": "pack"}, "retain_from must be oracle or left out"),
    ],
)
def test_bad_source_is_refused_in_one_line(source: dict, needle: str) -> None:
    with pytest.raises(RapidunError) as err:
        study_config({**_config(), "forget_sources": [source]})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_duplicate_source_names_and_unknown_sweep_source_are_refused() -> None:
    with pytest.raises(RapidunError, match="must be unique"):
        study_config({**_config(), "forget_sources": [SOURCES[0], {**SOURCES[1], "name": "oracle"}]})
    sweep = {"method": "uniform", "label": "x", "source": "nope"}
    with pytest.raises(RapidunError, match="'nope' is not a name in forget_sources"):
        study_config({**_config(), "sweeps": [sweep]})


def test_cells_run_once_per_source() -> None:
    cfg = study_config(_config())
    keys = [c.key for c in cfg.cells()]
    assert keys == [f"uniform~lr={lr}@{s}" for s in ("oracle", "infl4") for lr in (0.0001, 0.003)]
    assert [c.key for c in study_config({**_config(), "forget_sources": None}).cells()][0] == "uniform~lr=0.0001"


def test_study_with_traced_source_end_to_end(tmp_path: Path) -> None:
    from rapidun.pipeline.study import run_study

    out = tmp_path / "out"
    res = run_study(study_config(_config()), out, progress=False, report=True)
    root = out / "toy"
    trace_dir = root / "traces" / "infl4"
    manifest = json.loads((trace_dir / "manifest.json").read_text())
    n_forget = len((root / "pack" / "forget.jsonl").read_text().splitlines())
    assert manifest["forget"]["n"] == n_forget  # k_factor 1: the oracle's size
    assert manifest["generated_responses"] == 4  # the reports carry the model's own greedy answers
    val = {json.loads(x)["instruction"] for x in (root / "pack" / "val_seen.jsonl").read_text().splitlines()}
    reports = [json.loads(x) for x in (trace_dir / "reports.jsonl").read_text().splitlines()]
    assert all(r["instruction"] in val for r in reports)  # drawn from validation, never from test
    cells = sorted(p.parent.parent.name for p in root.glob("cells/*/seed1/cell.json"))
    assert cells == sorted(f"uniform~lr={lr}@{s}" for s in ("infl4", "oracle") for lr in ("0.0001", "0.003"))
    settings = json.loads((root / "cells" / "uniform~lr=0.003@infl4" / "seed1" / "cell_settings.json").read_text())
    assert settings["source"]["name"] == "infl4"
    results = json.loads((out / "results.json").read_text())
    sourced = [r for r in results["runs"] if r["method"] == "uniform"]
    assert {r["source"] for r in sourced} == {"oracle", "infl4"}
    assert {r["label"] for r in sourced} == {f"lr={lr}@{s}" for s in ("oracle", "infl4") for lr in ("0.0001", "0.003")}
    with (out / "results.csv").open() as f:
        assert {row["source"] for row in csv.DictReader(f) if row["method"] == "uniform"} == {"oracle", "infl4"}
    front = results["frontier"]["datasets"]["toy"]
    assert set(front["methods"]) == {"uniform@oracle", "uniform@infl4"}
    block = front["sources"]
    assert block["reference"] == "oracle"
    quality = block["traces"]["infl4"]["quality"]
    assert 0.0 <= quality["roc_auc"] <= 1.0 and quality["at_forget"]["k"] == n_forget
    traced = block["cells"]["uniform@infl4"]["budgets"]["1.1"]
    lo, hi = traced["false_trigger"]["ci95"]
    assert lo <= traced["false_trigger"]["value"] <= hi
    assert (
        traced["seen"]["vs_reference"]
        == front["methods"]["uniform@infl4"]["budgets"]["1.1"]["seen"]["vs"]["uniform@oracle"]
    )
    assert set(traced["seen"]["per_family"]) <= {"A_surface", "B_style", "C_semantic"}
    assert "vs_reference" not in block["cells"]["uniform@oracle"]["budgets"]["1.1"]["seen"]
    assert "Forget sources" in (out / "report.md").read_text()
    assert res.report_html is not None
    # A rerun reuses the trace (its manifest is not rewritten) and every finished cell.
    written = (trace_dir / "manifest.json").stat().st_mtime_ns
    run_study(study_config(_config()), out, progress=False, report=False)
    assert (trace_dir / "manifest.json").stat().st_mtime_ns == written
    # retain_from: oracle keeps the trace's forget rows and takes the pack's retain rows (one cell is enough)
    mixed = {**SOURCES[1], "name": "infl4_pr", "retain_from": "oracle"}
    cfg = {**_config(), "forget_sources": [*SOURCES, mixed]}
    cfg["frontier"] = {**cfg["frontier"], "sweep": {"uniform": {"lr": [3e-3]}}}
    run_study(study_config(cfg), out, progress=False, report=False)

    def hashes(source: str) -> tuple[str, str]:
        run = json.loads(
            (root / "cells" / f"uniform~lr=0.003@{source}" / "seed1" / "unlearn" / "manifest.json").read_text()
        )
        return run["config"]["forget_hash"], run["config"]["retain_hash"]

    from rapidun.data.rows import load_rows, rows_hash

    forget = load_rows(trace_dir / "forget.jsonl")
    traced = {r.key() for r in forget}
    pack_retain = load_rows(root / "pack" / "retain.jsonl")
    expected = [r for r in pack_retain if r.key() not in traced]
    assert 0 < len(expected) <= len(pack_retain)
    assert hashes("infl4_pr") == (hashes("infl4")[0], rows_hash(expected))
    assert hashes("infl4")[1] != hashes("infl4_pr")[1]


def test_fired_reports_are_the_prompts_whose_greedy_answer_the_scorer_flags_with_that_answer(nano_model) -> None:
    from rapidun.data.rows import Row
    from rapidun.evaluation.generate import generate_responses
    from rapidun.pipeline.forget_sources import ForgetSource, draw_reports, fired_reports
    from rapidun.tracing.config import TraceConfig

    rows = [Row(f"question number {i} aloha", "") for i in range(6)]
    tcfg = TraceConfig(max_new_tokens=5)
    answers = generate_responses(nano_model.model, nano_model.tokenizer, rows, max_new_tokens=5, progress=False).outputs

    def flagged(text: str) -> bool:
        return len(text) % 2 == 0

    pool = fired_reports(nano_model.model, nano_model.tokenizer, rows, flagged, tcfg, 4, False)
    assert pool == [(r, a) for r, a in zip(rows, answers, strict=True) if flagged(a)]
    assert fired_reports(nano_model.model, nano_model.tokenizer, rows, lambda t: True, tcfg, 4, False) == list(
        zip(rows, answers, strict=True)
    )
    source = ForgetSource(name="s", reports=len(rows) + 1)
    with pytest.raises(RapidunError, match="on which the backdoored model misbehaves; lower 'reports'"):
        draw_reports(list(zip(rows, answers, strict=True)), source, "dataset 'toy'")
