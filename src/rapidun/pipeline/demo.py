"""``rapidun demo``: the whole RapidUn experiment on embedded data, as a built-in study.

It builds a synthetic backdoor pack, trains a small Llama from scratch with the backdoor implanted, times a
retraining reference, computes influence once, runs ``rapidun`` and the baselines, evaluates everything and writes
``results.json`` and a report. ``configs/demo.yaml`` holds the same configuration (a test keeps them equal).
"""

from __future__ import annotations

from typing import Any

from rapidun.pipeline.study_config import StudyConfig, study_config

DEMO_METHODS = ["rapidun", "ga", "uniform", "self_only", "loreun", "fisher_ssd"]


def demo_dict(quick: bool = False, model: str | None = None) -> dict[str, Any]:
    """The demo's study configuration as a plain dict (what ``configs/demo.yaml`` contains)."""
    if quick:
        return {
            "name": "demo-quick",
            "model": model or "nano",
            "datasets": [{"name": "synthetic", "source": "synthetic", "n_rows": 700, "poison_rate": 0.1, "seed": 42,
                          "n_val": 60, "n_test": 60, "n_forget": 16}],
            "backdoor": {"epochs": 2, "batch_size": 16, "lr": 3e-3, "max_length": 96, "checkpoint_every": 20},
            "methods": DEMO_METHODS,
            "seeds": [42],
            "unlearn": {"lr": 1e-3, "max_length": 96, "epochs": 1},
            "influence": {"projector": "kronecker", "dim": 1024, "batch_size": 16},
            "evaluation": {"max_new_tokens": 24, "max_eval": 60, "batch_size": 32},
        }
    return {
        "name": "demo",
        "model": model or "tiny",
        "datasets": [{"name": "synthetic", "source": "synthetic", "n_rows": 2000, "poison_rate": 0.1, "seed": 42}],
        "backdoor": {"epochs": 3, "batch_size": 16, "lr": 3e-3, "max_length": 128, "checkpoint_every": 50},
        "methods": DEMO_METHODS,
        "seeds": [42],
        "unlearn": {"lr": 5e-4, "max_length": 128},
        "influence": {"projector": "kronecker", "dim": 4096, "batch_size": 16},
        "evaluation": {"max_new_tokens": 32, "max_eval": 150, "batch_size": 32},
    }


def demo_config(quick: bool = False, model: str | None = None) -> StudyConfig:
    return study_config(demo_dict(quick, model))
