"""The registry owns every method name, alias and capability; a method added in one file + one registry entry is
picked up by the CLI, a study and the report with no other edit."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import throwaway_method

from rapidun.cli.main import main
from rapidun.data.rows import write_rows
from rapidun.errors import RapidunError
from rapidun.pipeline.study import run_study
from rapidun.pipeline.study_config import method_params, study_config
from rapidun.reporting.tables import method_order, method_rank
from rapidun.unlearning import UniformParams, registry
from rapidun.unlearning.registry import METHODS
from rapidun.weighting.compute import WEIGHTINGS

SRC = Path(__file__).resolve().parents[2] / "src" / "rapidun"


@pytest.fixture
def throwaway(monkeypatch: pytest.MonkeyPatch) -> str:
    """The one registry entry of the throw-away method (removed again after the test)."""
    monkeypatch.setitem(METHODS, "throwaway", throwaway_method.METHOD)
    return "throwaway"


def test_capabilities_are_answered_for_every_method() -> None:
    expected_output = {"gradient": "adapter", "edit": "merged_model", "retrain": "train_output"}
    for name in registry.method_names():
        caps = registry.capabilities(name)
        assert caps["output"] == expected_output[str(caps["kind"])], name
        assert caps["edits_base"] == (caps["output"] == "merged_model"), name
        assert caps["refreshes_weights"] == (getattr(METHODS[name], "refresh", None) is not None), name
        if caps["uses_influence"]:
            assert registry.weighting_of(name) in WEIGHTINGS, name
    assert registry.influence_methods() == (
        "rapidun",
        "self_only",
        "rapidun_dynamic",
        "rapidun_contrastive",
        "rapidun_sampled",
        "rapidun_batch_normalised",
        "rapidun_coverage",
        "rapidun_saturation",
    )
    assert registry.reference_method() == "retrain"
    assert [n for n in registry.method_names() if registry.capabilities(n)["refreshes_weights"]] == [
        "rapidun_dynamic",
        "rapidun_saturation",
        "loreun_dynamic",
    ]
    assert registry.is_reference("retrain") and not registry.is_reference("backdoored")
    assert registry.uses_influence("rapidun") and not registry.uses_influence("graddiff")


def test_an_alias_is_the_same_method_under_the_name_its_user_wrote() -> None:
    assert registry.resolve("graddiff") == "uniform" and registry.get_method("graddiff") is METHODS["uniform"]
    assert "graddiff" not in METHODS  # one method, so the contract tests run it once
    assert isinstance(method_params("graddiff", {}), UniformParams)
    cfg = study_config({"methods": ["uniform", "graddiff"]})
    assert [c.key for c in cfg.cells()] == ["uniform", "graddiff"]  # results keep the names written
    with pytest.raises(RapidunError, match="unknown --method 'nope'; choose one of .*graddiff"):
        registry.resolve("nope")


def test_report_order_keeps_the_demo_order_and_places_aliases_and_unknowns() -> None:
    demo = ["fisher_ssd", "ga", "loreun", "self_only", "uniform", "rapidun", "retrain", "backdoored"]
    assert sorted(demo, key=method_rank) == [
        "backdoored",
        "retrain",
        "rapidun",
        "uniform",
        "self_only",
        "ga",
        "loreun",
        "fisher_ssd",
    ]
    order = method_order()
    assert order.index("graddiff") == order.index("uniform") + 1
    assert sorted(["zz_new", "aa_new", "fisher_noise"], key=method_rank) == ["fisher_noise", "aa_new", "zz_new"]


def test_describe_methods_has_one_line_per_method() -> None:
    lines = registry.describe_methods()
    assert [line.split(" ", 1)[0].rstrip(":") for line in lines] == list(METHODS)
    uniform = next(line for line in lines if line.startswith("uniform"))
    assert uniform.startswith("uniform (= graddiff): ")
    assert "uses influence" in next(line for line in lines if line.startswith("rapidun"))


# Strings that equal a method name outside the method files and the registry, and why each may stay.
ALLOWED = {
    "weighting/compute.py": {"uniform", "self_only"},  # names of weightings, a lower stage than the methods
    "cli/weights.py": {"uniform", "self_only"},  # the same weighting names, for `rapidun weights --weighting`
    "unlearning/influence_weights.py": {"uniform"},  # the weighting recorded with all-ones weights
    "unlearning/kinds.py": {"retrain"},  # a kind's name
    "unlearning/run.py": {"retrain"},  # the kind compared
    "unlearning/kind_runs.py": {"retrain"},  # the run.json key of the embedded training run
}


def test_no_method_name_is_written_outside_the_registry_and_the_method_files() -> None:
    # "rapidun" is also the package's and the program's name, so it is left out of this scan.
    names = set(registry.method_names(aliases=True)) - {"rapidun"}
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("unlearning/methods/") or rel == "unlearning/registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.setdefault(rel, set()).add(str(node.value))
    extra = {rel: sorted(hit - ALLOWED.get(rel, set())) for rel, hit in found.items()}
    assert {rel: hit for rel, hit in extra.items() if hit} == {}


def test_throwaway_method_runs_from_the_cli(throwaway: str, split, tmp_path: Path) -> None:
    forget, retain = split
    write_rows(tmp_path / "forget.jsonl", forget)
    write_rows(tmp_path / "retain.jsonl", retain)
    out = tmp_path / "out"
    argv = ["unlearn", "--model", "nano", "--forget", str(tmp_path / "forget.jsonl"), "--retain"]
    argv += [str(tmp_path / "retain.jsonl"), "--out", str(out), "--method", throwaway, "--param", "forget_weight=0.25"]
    argv += ["--epochs", "1", "--lr", "1e-3", "--max-length", "64", "--no-progress"]
    assert main(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "throwaway" and run["config"]["params"] == {"forget_weight": 0.25}
    assert run["steps"] > 0 and (out / "adapter_model.safetensors").is_file()


def _tiny_study(methods: list[str]) -> dict:
    return {
        "name": "registry",
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
        "methods": methods,
        "seeds": [1],
        "unlearn": {"lr": 1e-3, "max_length": 64, "epochs": 0.5, "checkpoint_every": 0},
        "evaluation": {"max_new_tokens": 4, "max_eval": 8, "batch_size": 16},
    }


def test_throwaway_method_runs_in_a_study_and_its_report(throwaway: str, tmp_path: Path) -> None:
    # Listed before ga in the study, placed after it in the report: the report follows the registry's order.
    cfg = study_config(_tiny_study([throwaway, "ga"]))
    res = run_study(cfg, tmp_path / "out", progress=False)
    runs = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert [r["method"] for r in runs] == ["backdoored", "throwaway", "ga"]
    assert runs[1]["steps"] > 0 and runs[1]["metrics"]["clean_ppl"] > 1
    assert method_order()[-1] == "throwaway"
    md = (tmp_path / "out" / "report.md").read_text()
    rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| ")]
    first = rows.index("backdoored")
    assert rows[first : first + 3] == ["backdoored", "ga", "throwaway"]
    assert res.report_html is not None and "throwaway" in res.report_html.read_text()
