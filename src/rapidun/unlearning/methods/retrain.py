"""``retrain``: the retraining reference, the ``rapidun train`` recipe (:func:`rapidun.training.sft.train_model`)
run on the retain rows, which must be clean rows only (in the demo the caller passes the clean training set), from
the clean starting model. ``RetrainParams.train`` is the recipe that implanted the backdoor (the caller passes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidun.training.sft import LoraSettings, TrainConfig
from rapidun.unlearning.kinds import RetrainMethod


@dataclass(frozen=True)
class RetrainParams:
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lora=LoraSettings()))


METHOD = RetrainMethod(
    params_cls=RetrainParams,
    description="retraining reference: the training recipe on clean rows only",
)
