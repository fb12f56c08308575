"""Study configs: every shipped YAML loads, the demo config matches the demo, bad configs fail with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rapidun.errors import RapidunError
from rapidun.pipeline.demo import demo_dict
from rapidun.pipeline.study import add_speedups, results_csv
from rapidun.pipeline.study_config import study_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
REQUIRED = ("demo", "dolly_released", "ablation", "sensitivity", "frontier_tiny", "frontier_small")
# The required configs are listed by name, so a missing one fails to load here instead of silently not being tested.
CONFIGS = sorted({p.stem for p in CONFIG_DIR.glob("*.yaml")} | set(REQUIRED))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_loads(name: str):
    cfg = study_config(yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text()))
    assert cfg.cells() and cfg.seeds and cfg.datasets


BENCH_CONFIG_DIR = CONFIG_DIR.parent / "benchmarks" / "configs"
BENCH_CONFIGS = sorted(p.name for p in BENCH_CONFIG_DIR.glob("*.yaml"))


@pytest.mark.parametrize("name", BENCH_CONFIGS)
def test_every_benchmark_config_loads(name: str):
    """The configs BENCHMARKS.md's commands run: a typo in one would only show when a long study starts."""
    cfg = study_config(yaml.safe_load((BENCH_CONFIG_DIR / name).read_text()))
    assert cfg.cells() and cfg.seeds and cfg.datasets


def test_demo_yaml_is_the_demo():
    assert yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text()) == demo_dict(quick=False)


def test_frontier_configs_sweep_every_compared_method_with_enough_seeds():
    compared = {"uniform", "ga", "npo", "simnpo", "loreun", "loreun_dynamic", "fisher_ssd", "rapidun"}
    for name, seeds in (("frontier_tiny", 5), ("frontier_small", 3)):
        cfg = study_config(yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text()))
        assert cfg.frontier is not None and compared <= set(cfg.frontier.sweep), name
        assert cfg.frontier.budgets == (1.05, 1.10) and len(cfg.seeds) == seeds
        # 3 values at least to bracket a budget; 6 at most (the widened ranges of BENCHMARKS 14) to bound the cost
        assert all(3 <= len(next(iter(knobs.values()))) <= 6 for knobs in cfg.frontier.sweep.values())
    # frontier_small keeps the labels of its earlier sweep cells, so a rerun reuses them
    small = {c.key for c in study_config(yaml.safe_load((CONFIG_DIR / "frontier_small.yaml").read_text())).cells()}
    assert {"rapidun~lr=0.0002", "rapidun~lr=0.001", "uniform~lr=0.0003", "loreun~lr=0.0002"} <= small


def test_ablation_and_sensitivity_cover_the_paper_checks():
    abl = study_config(yaml.safe_load((CONFIG_DIR / "ablation.yaml").read_text()))
    keys = {c.key for c in abl.cells()}
    assert {"rapidun", "uniform", "self_only", "rapidun~faithful_topk40"} <= keys and len(abl.seeds) == 3
    sens = study_config(yaml.safe_load((CONFIG_DIR / "sensitivity.yaml").read_text()))
    labels = " ".join(c.label for c in sens.cells())
    for name in ("tau_f", "tau_r", "bounds", "alpha", "beta", "gamma", "delta"):
        assert name in labels


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"methdos": ["ga"]}, "unknown key"),
        ({"methods": ["nope"]}, "unknown method 'nope'"),
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [1, 2], "retrain_seeds": [7]}, "shares no seed"),
        ({"unlearn": {"lr": -1}}, "--lr must be > 0"),
        ({"datasets": [{"name": "a", "source": "web"}]}, "source must be one of"),
        ({"sweeps": [{"method": "rapidun", "params": {"weights": {"tau": 1}}}]}, "unknown key"),
    ],
)
def test_bad_config_is_one_clear_error(patch, message):
    with pytest.raises(RapidunError, match=message):
        study_config({**demo_dict(quick=True), **patch})


def test_grid_retrains_only_the_listed_seeds():
    base = {**demo_dict(quick=True), "methods": ["uniform", "ga"], "seeds": [1, 2, 3]}
    every = [(seed, c.method) for seed, c in study_config(base).grid()]
    assert every == [(s, m) for s in (1, 2, 3) for m in ("retrain", "uniform", "ga")]
    one = [(seed, c.method) for seed, c in study_config({**base, "retrain_seeds": [2]}).grid()]
    assert one == [(1, "uniform"), (1, "ga"), (2, "retrain"), (2, "uniform"), (2, "ga"), (3, "uniform"), (3, "ga")]
    assert all(c.method != "retrain" for _, c in study_config({**base, "retrain": False}).grid())


def _run(method: str, seed: int, total: float) -> dict:
    return {
        "dataset": "d",
        "method": method,
        "label": "",
        "seed": seed,
        "metrics": {"asr_seen": 0.5},
        "timings": {"influence_s": 0.0, "weights_s": 0.0, "training_s": total, "evaluation_s": 1.0, "total_s": total},
        "speedup_vs_retrain": None,
        "peak_memory_mb": 1.0,
    }


def test_speedup_is_mean_retrain_time_over_method_time():
    runs = [_run("retrain", 1, 100.0), _run("retrain", 2, 60.0), _run("rapidun", 1, 8.0), _run("backdoored", 0, 5)]
    add_speedups(runs)
    assert runs[2]["speedup_vs_retrain"] == pytest.approx(10.0)
    assert runs[0]["speedup_vs_retrain"] == pytest.approx(0.8)
    assert runs[3]["speedup_vs_retrain"] is None
    text = results_csv(runs)
    assert text.splitlines()[0].startswith("dataset,method,label,seed,asr_seen")
    assert len(text.splitlines()) == 5


def test_reusing_a_directory_with_other_settings_is_refused(tmp_path: Path):
    from rapidun.pipeline.datasets import check_settings

    check_settings(tmp_path / "s.json", {"lr": 1, "seed": 2}, "cell ga")
    check_settings(tmp_path / "s.json", {"lr": 1, "seed": 2}, "cell ga")  # same settings: reused
    with pytest.raises(RapidunError, match=r"cell ga in .* other settings \(lr\)"):
        check_settings(tmp_path / "s.json", {"lr": 3, "seed": 2}, "cell ga")


def test_a_setting_added_later_and_left_unset_does_not_block_resuming_an_older_directory(tmp_path: Path):
    from rapidun.pipeline.datasets import check_settings

    check_settings(tmp_path / "s.json", {"dataset": {"seed": 42}, "lr": 1}, "dataset d")  # written by an older version
    check_settings(tmp_path / "s.json", {"dataset": {"seed": 42, "facts": None}, "lr": 1}, "dataset d")
    with pytest.raises(RapidunError, match=r"other settings \(dataset\)"):  # set to a value, it is a change
        check_settings(tmp_path / "s.json", {"dataset": {"seed": 42, "facts": {"n_people": 10}}, "lr": 1}, "dataset d")


def test_set_overrides_use_dotted_keys_and_yaml_values():
    from rapidun.cli.study import apply_overrides

    data = apply_overrides(demo_dict(quick=True), ["seeds=[1, 2]", "model=tiny", "unlearn.lr=0.002", "x.y=3"])
    assert data["seeds"] == [1, 2] and data["model"] == "tiny" and data["unlearn"]["lr"] == 0.002
    assert data["x"] == {"y": 3}
    with pytest.raises(RapidunError, match="KEY=VALUE"):
        apply_overrides({}, ["seeds"])


def test_frontier_sweep_expands_into_labelled_cells_weakest_first() -> None:

    cfg = study_config(
        {
            "methods": ["uniform"],
            "method_params": {"fisher_ssd": {"lam": 0.5}},
            "frontier": {"sweep": {"uniform": {"lr": [1e-4, 5e-4]}, "fisher_ssd": {"alpha": [20.0, 5.0]}}},
        }
    )
    assert [c.key for c in cfg.cells()] == [
        "uniform",
        "uniform~lr=0.0001",
        "uniform~lr=0.0005",
        "fisher_ssd~alpha=20.0",
        "fisher_ssd~alpha=5.0",
    ]
    cells = cfg.frontier_cells()
    assert cells[0].unlearn == {"lr": 1e-4} and cells[0].params == {}
    assert cells[2].params == {"lam": 0.5, "alpha": 20.0} and cells[2].unlearn == {}
    assert cfg.frontier is not None and cfg.frontier.budgets == (1.05, 1.10)


@pytest.mark.parametrize(
    ("frontier", "message"),
    [
        ({"sweep": {"uniform": {"lrr": [1.0]}}}, "'lrr' is neither an unlearning setting"),
        ({"sweep": {"uniform": {"lr": [1e-4], "epochs": [1.0]}}}, "exactly one knob"),
        ({"sweep": {"uniform": {"lr": []}}}, "non-empty list"),
        ({"budgets": [0.95], "sweep": {"uniform": {"lr": [1e-4]}}}, "ratios >= 1"),
        ({"sweep": {}}, "sweep is empty"),
        ({"sweep": {"nope": {"lr": [1e-4]}}}, "unknown method 'nope'"),
        ({"sweep": {"uniform": {"lr": [-1.0]}}}, "lr must be > 0"),
    ],
)
def test_bad_frontier_blocks_name_the_fix(frontier: dict, message: str) -> None:

    with pytest.raises(RapidunError, match=message):
        study_config({"methods": [], "frontier": frontier})
