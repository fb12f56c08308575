"""A study on a facts dataset (nano model, 10 people, retraining + 2 methods, 1 seed): the model is trained on the
facts pack, every cell is evaluated by the facts metrics, forget quality and PrivLeak are filled in against the
retraining reference, and results.csv gains the facts columns; a bad facts block fails before any work starts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rapidun.data.facts import FactsConfig, build_facts_pack
from rapidun.errors import RapidunError
from rapidun.pipeline.study import run_study
from rapidun.pipeline.study_config import study_config
from rapidun.pipeline.study_facts import FACTS_COLUMNS, add_facts_references, facts_summary


def _config(**extra: object) -> dict:
    return {
        "name": "facts-nano",
        "model": "nano",
        "datasets": [{"name": "facts", "source": "facts", "facts": {"n_people": 10, "n_holdout": 2}}],
        "backdoor": {"epochs": 1, "batch_size": 16, "lr": 6e-3, "max_length": 64, "prompt_style": "plain"},
        "methods": ["ga", "uniform"],
        "seeds": [1],
        "validation": False,
        "unlearn": {"max_length": 64, "epochs": 0.5, "checkpoint_every": 0, "prompt_style": "plain"},
        "evaluation": {"max_new_tokens": 4, "max_eval": 6, "batch_size": 16},
        **extra,
    }


def test_facts_study_evaluates_every_cell_with_the_facts_metrics(tmp_path: Path) -> None:
    res = run_study(study_config(_config()), tmp_path / "study", progress=False)
    root = res.out_dir / "facts"
    meta = json.loads((root / "pack" / "meta.json").read_text())
    assert meta["task"] == "facts" and meta["config"]["n_people"] == 10
    trained = json.loads((root / "trained" / "run.json").read_text())
    assert trained["n_rows"] == meta["counts"]["train"]
    retrain = json.loads((root / "cells" / "retrain" / "seed1" / "unlearn" / "run.json").read_text())
    assert retrain["n_retain"] == meta["counts"]["retain"]  # the reference never sees the forget people
    by_method = {r["method"]: r for r in res.runs}
    assert set(by_method) == {"backdoored", "retrain", "ga", "uniform"}
    for name, rec in by_method.items():
        m = rec["metrics"]
        assert m["task"] == "facts" and m["forget"]["n"] == meta["counts"]["forget"]
        assert m["retain"]["n"] == 6  # max_eval retain rows
        if name == "retrain":
            assert m["forget_quality"] is None  # the reference itself
        else:
            assert 0.0 <= m["forget_quality"] <= 1.0 and m["reference"] == {"method": "retrain", "seed": 1}
            assert m["mia"]["loss"]["auc_retrained"] == by_method["retrain"]["metrics"]["mia"]["loss"]["auc"]
        assert (root / "cells" / name / ("seed1" if name != "backdoored" else "") / "facts_generations.jsonl").is_file()
    with (res.out_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert all(column in rows[0] for column, _ in FACTS_COLUMNS)
    _check_report(res.out_dir)
    table = facts_summary(res.runs).splitlines()
    assert table[0].split()[:4] == ["dataset", "method", "seed", "forget_accuracy"] and len(table) == 5
    assert {r["method"]: r["forget_accuracy"] for r in rows}["ga"] == str(
        by_method["ga"]["metrics"]["forget"]["accuracy"]
    )


def _check_report(out: Path) -> None:
    """The study's report has the facts sections, and its ROC curves give the AUCs the evaluation recorded."""
    from rapidun.reporting import load_results
    from rapidun.reporting.cells import read_generations
    from rapidun.reporting.plot_facts import mia_roc

    md = (out / "report.md").read_text()
    assert (out / "report.html").is_file() and "## Results: facts" in md and "| ga | 1 |" in md
    assert {"facts_forget_quality.png", "facts_mia_roc.png"} <= {p.name for p in (out / "report_figures").iterdir()}
    res = load_results(out)
    for r in res.runs:
        roc = mia_roc(read_generations(res.run_dir, r) or [])
        assert roc is not None and roc[1] == pytest.approx(r.metrics["mia"]["min_k_plus_plus"]["auc"])


def test_a_facts_pack_given_as_pack_is_a_facts_dataset(tmp_path: Path) -> None:
    from rapidun.pipeline.datasets import dataset_task

    build_facts_pack(tmp_path / "pack", FactsConfig(n_people=10, n_holdout=2))
    cfg = study_config(_config(datasets=[{"name": "f", "source": "pack", "pack": str(tmp_path / "pack")}]))
    assert dataset_task(cfg.datasets[0]) == "facts"
    assert dataset_task(study_config(_config(datasets=[{"name": "s"}])).datasets[0]) == "backdoor"


def test_forget_quality_is_the_ks_p_value_against_the_smallest_retraining_seed() -> None:
    def rec(method: str, seed: int, ratios: list[float], auc: float) -> dict:
        mia = {a: {"auc": auc} for a in ("loss", "zlib", "min_k", "min_k_plus_plus")}
        return {
            "dataset": "d",
            "method": method,
            "seed": seed,
            "metrics": {"task": "facts", "forget": {"truth_ratios": ratios}, "mia": mia},
        }

    ref = rec("retrain", 1, [0.1, 0.2, 0.3, 0.4], 0.5)
    other = rec("retrain", 2, [0.1, 0.2, 0.3, 0.4], 0.5)
    far = rec("ga", 1, [5.0, 6.0, 7.0, 8.0], 0.8)
    add_facts_references([far, other, ref])
    assert ref["metrics"].get("forget_quality") is None
    assert other["metrics"]["forget_quality"] == pytest.approx(1.0)  # identical samples: KS statistic 0
    # 4 vs 4 samples, completely separated: D = 1, exact two-sided p = 2 / C(8, 4) = 2 / 70
    assert far["metrics"]["forget_quality"] == pytest.approx(2 / 70)
    assert far["metrics"]["mia"]["loss"]["priv_leak"] == pytest.approx((0.8 - 0.5) / 0.5)


def test_a_facts_block_on_another_source_or_with_a_bad_value_fails_first() -> None:
    with pytest.raises(RapidunError, match="'facts' block needs 'source: facts'"):
        study_config(_config(datasets=[{"name": "s", "source": "synthetic", "facts": {"n_people": 10}}]))
    with pytest.raises(RapidunError, match=r"datasets\[0\]\.facts: --n-people must lie in"):
        study_config(_config(datasets=[{"name": "f", "source": "facts", "facts": {"n_people": 3}}]))


def test_facts_yaml_runs_every_default_method_npo_simnpo_and_retraining_on_forget10_with_3_seeds() -> None:
    import yaml

    from rapidun.unlearning.registry import default_study_methods, reference_method

    path = Path(__file__).resolve().parents[2] / "configs" / "facts.yaml"
    cfg = study_config(yaml.safe_load(path.read_text()))
    spec = cfg.datasets[0]
    assert spec.source == "facts" and spec.facts is not None and spec.facts.forget_split == "forget10"
    assert set(default_study_methods()) | {"npo", "simnpo"} <= set(cfg.methods) and len(cfg.seeds) == 3
    assert cfg.retrain and cfg.retrain_seeds is None  # every seed retrains the reference
    assert {cell.method for _, cell in cfg.grid()} >= {reference_method()}
    assert cfg.unlearn["prompt_style"] == cfg.backdoor.prompt_style == cfg.influence.prompt_style


def test_a_facts_study_relearns_each_cell_measuring_all_three_points_with_the_relearning_task(tmp_path: Path) -> None:
    relearn = {"steps": 2, "rows": 2, "batch_size": 2, "max_new_tokens": 4}
    res = run_study(study_config(_config(methods=["ga"], relearn=relearn)), tmp_path / "s", progress=False)
    root = res.out_dir / "facts"
    before = json.loads((root / "relearn_before.json").read_text())["metrics"]
    by_method = {r["method"]: r for r in res.runs}
    for name in ("retrain", "ga"):
        record = json.loads((root / "cells" / name / "seed1" / "relearn" / "relearn.json").read_text())
        assert record["task"] == "facts" and record["metric"] == "forget_accuracy"
        # The model before unlearning is measured once, by the relearning task, and every cell compares with it.
        assert record["before_unlearning"]["forget_accuracy"] == before["forget_accuracy"]
        assert record["after_unlearning"]["forget_loss"] is not None  # measured here, not read from the study
        b, u, r = (record[k]["forget_accuracy"] for k in ("before_unlearning", "after_unlearning", "after_relearning"))
        expected = None if abs(b - u) < 0.01 else (r - u) / (b - u)
        assert by_method[name]["relearn_recovery"] == (pytest.approx(expected) if expected is not None else None)
        held = record["heldout"]  # the 2 relearned questions left out of the held-out recovery
        assert held["n"] == len(before["forget_correct"]) - 2
        assert by_method[name]["relearn_recovery_heldout"] == held["recovery"]
