"""The method registry: one literal dict, one file per method, the same name in file, key, YAML and params class.

The contract tests parametrise over :data:`METHODS`.
"""

from __future__ import annotations

from rapidun.errors import RapidunError
from rapidun.unlearning.kinds import EditMethod, GradientMethod, RetrainMethod
from rapidun.unlearning.methods import (
    fisher_noise,
    fisher_ssd,
    ga,
    graddiff,
    loreun,
    loreun_dynamic,
    rapidun,
    retrain,
    self_only,
    uniform,
)

Method = GradientMethod | EditMethod | RetrainMethod

METHODS: dict[str, Method] = {
    "rapidun": rapidun.METHOD,
    "ga": ga.METHOD,
    "graddiff": graddiff.METHOD,
    "uniform": uniform.METHOD,
    "self_only": self_only.METHOD,
    "loreun": loreun.METHOD,
    "loreun_dynamic": loreun_dynamic.METHOD,
    "fisher_ssd": fisher_ssd.METHOD,
    "fisher_noise": fisher_noise.METHOD,
    "retrain": retrain.METHOD,
}
DEFAULT_METHOD = "rapidun"


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise RapidunError(f"unknown --method '{name}'; choose one of {', '.join(METHODS)}")
    return METHODS[name]
