"""``rapidun demo``: the whole RapidUn experiment on embedded data, as a built-in study.

It builds a synthetic backdoor pack, trains a small Llama from scratch with the backdoor implanted, times a
retraining reference, computes influence once, runs ``rapidun`` and the baselines, evaluates everything and writes
``results.json`` and a report. ``configs/demo.yaml`` holds the same configuration (a test keeps them equal).
"""

from __future__ import annotations

from typing import Any

from rapidun.pipeline.study_config import StudyConfig, study_config
from rapidun.unlearning.registry import default_study_methods, demo_params

# The registry's default study, in its run order (the methods a study runs when it names none).
DEMO_METHODS = list(default_study_methods())
# Deviations from the paper's defaults, for ~1M-parameter models trained from scratch here (measured on the demo
# data; see BENCHMARKS.md): the backdoor needs a 15% poison rate and lr 5e-3 to be learned in ~300 steps; LoRA
# unlearning needs lr 5e-4 (the paper's 6e-5 is for 8B models and barely moves a 1M model in 320 steps); method
# parameters for such small models are the registry's demo_params() (e.g. a lower Fisher selection threshold).


def demo_dict(quick: bool = False, model: str | None = None) -> dict[str, Any]:
    """The demo's study configuration as a plain dict (what ``configs/demo.yaml`` contains)."""
    if quick:
        return {
            "name": "demo-quick",
            "model": model or "nano",
            "datasets": [
                {
                    "name": "synthetic",
                    "source": "synthetic",
                    "n_rows": 1000,
                    "poison_rate": 0.2,
                    "seed": 42,
                    "n_val": 40,
                    "n_test": 60,
                    "n_forget": 24,
                }
            ],
            "backdoor": {"epochs": 5, "batch_size": 16, "lr": 6e-3, "max_length": 128, "checkpoint_every": 50},
            "methods": DEMO_METHODS,
            "seeds": [42],
            "unlearn": {"lr": 1e-3, "max_length": 128, "epochs": 1},
            "influence": {"projector": "kronecker", "dim": 1024, "batch_size": 16},
            "evaluation": {"max_new_tokens": 24, "max_eval": 60, "batch_size": 32},
        }
    return {
        "name": "demo",
        "model": model or "tiny",
        "datasets": [
            {"name": "synthetic", "source": "synthetic", "n_rows": 2000, "poison_rate": 0.15, "seed": 42, "n_test": 150}
        ],
        "backdoor": {"epochs": 3, "batch_size": 16, "lr": 5e-3, "max_length": 128, "checkpoint_every": 50},
        "methods": DEMO_METHODS,
        "seeds": [42],
        "unlearn": {"lr": 5e-4, "max_length": 128},
        "method_params": demo_params(),
        "influence": {"projector": "kronecker", "dim": 4096, "batch_size": 16},
        "evaluation": {"max_new_tokens": 32, "max_eval": 150, "batch_size": 32},
    }


def demo_config(quick: bool = False, model: str | None = None) -> StudyConfig:
    return study_config(demo_dict(quick, model))
