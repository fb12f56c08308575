"""rapidun: influence-guided unlearning of large language models (RapidUn, arXiv 2512.04457).

The Python API, one function per pipeline stage (the CLI's commands), each writing a directory and returning a
result with its paths and numbers (docs/api.md):

    rapidun.poison(data, out, **pack_settings) -> PackResult
        a backdoor data pack; data = "synthetic", "released-dolly" (shipped) or a rows file
    rapidun.train(model, data, out, lora=False, **train_settings) -> TrainResult
        fine-tune a size name ("nano", "tiny", "small", ...), a model directory or a hub id
    rapidun.evaluate(model, data, out, adapter=None, **eval_settings) -> EvaluationResult
        ASR on seen / OOD triggers, false-trigger rate, clean perplexity (with 95% intervals)
    rapidun.influence(model, forget, retain, out, **influence_settings) -> InfluenceResult
        influence of the forget / retain rows on each other (FF, FR, RF, RR)
    rapidun.weights(influence, out, **weight_settings) -> WeightsResult
        bounded, mean-one per-row weights from the influence scores
    rapidun.unlearn(model, forget, retain, out, method="rapidun", weights=None, **unlearn_settings) -> UnlearnResult
        a LoRA adapter that unlearns the forget rows (rapidun or a baseline)
    rapidun.study(config, out=None) -> StudyResult
        a resumable grid of datasets x methods x seeds from a YAML file or mapping, with a report

Settings are keyword fields of each stage's config dataclass (PackConfig, TrainConfig, EvaluateConfig,
InfluenceConfig, WeightParams, UnlearnConfig), checked before any model loads; bad input raises
``rapidun.errors.RapidunError`` with one line naming the fix. Progress bars show only when stderr is a terminal
(``progress=True`` forces them). The functions are imported on first use, so ``import rapidun`` stays light.

Pipeline stages, one package each, imports flowing one way:
``data -> modeling -> training -> influence -> weighting -> unlearning -> evaluation -> reporting -> pipeline ->
api -> cli``.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
import types as _types
from typing import TYPE_CHECKING, Any

# torch's OpenMP threads spin-wait by default; on small shared CPU machines that made the same workload swing by
# up to 15x between runs. Passive waiting must be chosen before torch is imported, so we set it here (a user who
# set it, or imported torch first, keeps their choice).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = [
    "poison",
    "train",
    "evaluate",
    "influence",
    "weights",
    "unlearn",
    "study",
    "PackResult",
    "TrainResult",
    "EvaluationResult",
    "InfluenceResult",
    "WeightsResult",
    "UnlearnResult",
    "StudyResult",
]

if TYPE_CHECKING:  # type checkers see the real signatures; at run time they load on first use (__getattr__)
    from rapidun.api import (
        EvaluationResult,
        InfluenceResult,
        PackResult,
        StudyResult,
        TrainResult,
        UnlearnResult,
        WeightsResult,
        evaluate,
        poison,
        study,
        train,
        unlearn,
        weights,
    )


class _CallableStagePackage(_types.ModuleType):
    """The package ``rapidun.influence`` shares its name with the flat API's ``rapidun.influence(...)``: a Python
    package attribute cannot be a function too, so the package is made callable and a call runs
    :func:`rapidun.api.influence` (its attributes, ``rapidun.influence.stage`` etc., are unchanged)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from rapidun.api import influence as run_influence

        return run_influence(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "influence":
        import rapidun.api as api

        value = getattr(api, name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'rapidun' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# Imported here, after the names above exist, so the package is callable however it is reached first.
_influence_package = _importlib.import_module("rapidun.influence")
_influence_package.__class__ = _CallableStagePackage
