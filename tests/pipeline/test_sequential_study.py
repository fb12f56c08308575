"""Sequential deletion requests as a study column (issue 15 item 4; nano model, 1 seed): every unlearned cell records
each request's metrics and costs and the combined request's; with one request the chain and the combined request
are the same run and must agree exactly; a finished study gains the column without unlearning its cells again; the
report gets the section; a bad block fails before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapidun.errors import RapidunError
from rapidun.pipeline.study import run_study
from rapidun.pipeline.study_config import study_config


def _config(**extra: object) -> dict:
    return {
        "name": "sequential-nano",
        "model": "nano",
        "datasets": [
            {"name": "toy", "n_rows": 120, "poison_rate": 0.2, "seed": 3, "n_val": 6, "n_test": 8, "n_forget": 4}
        ],
        "backdoor": {"epochs": 1, "batch_size": 16, "lr": 6e-3, "max_length": 64, "checkpoint_every": 0},
        "methods": ["uniform"],
        "retrain": False,
        "seeds": [1],
        "validation": False,
        "unlearn": {"max_length": 64, "epochs": 0.5, "checkpoint_every": 0},
        "evaluation": {"max_new_tokens": 4, "max_eval": 6, "batch_size": 16},
        **extra,
    }


def _cell(out: Path) -> dict:
    return json.loads((out / "toy" / "cells" / "uniform" / "seed1" / "cell.json").read_text())


def test_one_request_equals_the_combined_request(tmp_path: Path) -> None:
    res = run_study(study_config(_config(sequential={"requests": 1})), tmp_path / "s1", progress=False, report=False)
    seq = _cell(res.out_dir)["sequential"]
    assert seq["composition"] == "merged" and len(seq["requests"]) == 1
    assert seq["requests"][0]["rows"] == 4  # every forget row in the one request
    assert seq["requests"][0]["metrics"] == seq["combined"]["metrics"]  # same rows, settings, seed: same model


def test_two_requests_then_resume_adds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "s2"
    res = run_study(study_config(_config()), out, progress=False, report=False)
    assert "sequential" not in _cell(res.out_dir)  # a study without the block keeps its records
    adapter = out / "toy" / "cells" / "uniform" / "seed1" / "unlearn" / "adapter_model.safetensors"
    trained_at = adapter.stat().st_mtime_ns
    run_study(study_config(_config(sequential={"requests": 2})), out, progress=False, report=True)
    assert adapter.stat().st_mtime_ns == trained_at  # the cell itself was not unlearned again
    seq = _cell(out)["sequential"]
    assert [r["index"] for r in seq["requests"]] == [1, 2]
    assert sorted(r["rows"] for r in seq["requests"]) == [2, 2]
    first, second = seq["requests"]
    assert second["cumulative_cost_s"] == pytest.approx(first["cost_s"] + second["cost_s"])
    for part in (first, second, seq["combined"]):
        assert set(part["metrics"]) == {"asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl"}
        assert part["metrics"]["clean_ppl"] > 1.0
    # the chain's second request started from the first request's merged model, not from the backdoored one
    chain = json.loads((out / "toy" / "cells" / "uniform" / "seed1" / "sequential" / "sequential.json").read_text())
    assert chain["requests"][1]["forget_indices"] != chain["requests"][0]["forget_indices"]
    report = (out / "report.md").read_text()
    assert "Sequential deletion requests: toy" in report and "one combined request" in report
    served_at = (out / "toy" / "cells" / "uniform" / "seed1" / "sequential" / "sequential.json").stat().st_mtime_ns
    run_study(study_config(_config(sequential={"requests": 2})), out, progress=False, report=False)
    assert (out / "toy" / "cells" / "uniform" / "seed1" / "sequential" / "sequential.json").stat().st_mtime_ns == (
        served_at
    )


@pytest.mark.parametrize(
    ("block", "message"),
    [({"requests": 0}, "'requests' must be >= 1"), ({"reqs": 2}, "unknown key 'reqs' in sequential")],
)
def test_bad_block_fails_before_work(block: dict, message: str) -> None:
    with pytest.raises(RapidunError, match=message):
        study_config(_config(sequential=block))


def test_facts_dataset_is_refused_before_any_work(tmp_path: Path) -> None:
    facts = {"name": "people", "source": "facts"}
    cfg = study_config(_config(datasets=[facts], sequential={"requests": 2}))
    with pytest.raises(RapidunError, match="backdoor datasets only"):
        run_study(cfg, tmp_path / "s", progress=False, report=False)
    assert not (tmp_path / "s" / "people").exists()
