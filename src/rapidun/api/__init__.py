"""The flat Python API of rapidun: one function per pipeline stage, the same stages as the CLI commands.

``poison -> train -> evaluate -> influence -> weights -> unlearn -> evaluate``, or ``study`` for a whole grid.
Each takes paths and keyword settings (fields of the stage's config dataclass), writes the same directory as its
CLI command, and returns a result dataclass with the paths and numbers (:mod:`rapidun.api.results`). Reach them as
``rapidun.train`` etc.; see docs/api.md.
"""

from rapidun.api.backdoor import evaluate, poison, train
from rapidun.api.results import (
    EvaluationResult,
    InfluenceResult,
    PackResult,
    StudyResult,
    TrainResult,
    UnlearnResult,
    WeightsResult,
)
from rapidun.api.unlearning import influence, study, unlearn, weights

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
