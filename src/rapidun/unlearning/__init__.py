"""Unlearning stage: one training loop, methods as weight/loss functions in a literal registry (docs/method.md sections 4-5).

Gradient methods train a new LoRA adapter with the weighted RapidUn objective; edit methods change base weights
without training; the retraining reference runs the training recipe on clean rows. Which method is which, and what
each needs, is answered by :mod:`rapidun.unlearning.registry`.
"""

from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.methods.fisher_noise import FisherNoiseParams
from rapidun.unlearning.methods.fisher_ssd import FisherSsdParams
from rapidun.unlearning.methods.ga import GAParams
from rapidun.unlearning.methods.loreun import LoreunParams
from rapidun.unlearning.methods.loreun_dynamic import LoreunDynamicParams
from rapidun.unlearning.methods.rapidun import RapidunParams
from rapidun.unlearning.methods.retrain import RetrainParams
from rapidun.unlearning.methods.self_only import SelfOnlyParams
from rapidun.unlearning.methods.uniform import UniformParams
from rapidun.unlearning.registry import ALIASES, METHODS, get_method, resolve
from rapidun.unlearning.run import UnlearnResult, unlearn
from rapidun.unlearning.sampling import mixture_schedule

__all__ = [
    "ALIASES",
    "METHODS",
    "FisherNoiseParams",
    "FisherSsdParams",
    "GAParams",
    "LoreunDynamicParams",
    "LoreunParams",
    "RapidunParams",
    "RetrainParams",
    "SelfOnlyParams",
    "UniformParams",
    "UnlearnConfig",
    "UnlearnResult",
    "get_method",
    "mixture_schedule",
    "resolve",
    "unlearn",
]
