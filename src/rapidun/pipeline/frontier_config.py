"""The ``frontier:`` block of a study config: strength sweeps per method and the perplexity budgets at which
methods are compared (docs/method.md section 7, "Matched-perplexity frontier").

    frontier:
      budgets: [1.05, 1.10]
      sweep:
        uniform: {lr: [0.0002, 0.0005, 0.001]}
        fisher_ssd: {alpha: [20.0, 10.0, 5.0]}

Each method names one knob and its values from the weakest to the strongest setting; the order is the sweep's
path. A knob that is a field of ``UnlearnConfig`` (``lr``, ``epochs``, ...) changes the unlearning recipe, any
other knob the method's parameters (on top of ``method_params``). Each value becomes one cell labelled
``knob=value`` (``cells/<method>~<knob>=<value>/seed<S>/``), so a frontier grid resumes and may be run in parts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from rapidun.errors import RapidunError
from rapidun.evaluation.paired import N_RESAMPLES
from rapidun.settings import setting
from rapidun.unlearning import UnlearnConfig

UNLEARN_KNOBS = frozenset(f.name for f in dataclasses.fields(UnlearnConfig))


@dataclass(frozen=True)
class FrontierSpec:
    budgets: tuple[float, ...] = setting((1.05, 1.10), "clean-perplexity budgets, as ratios to the backdoored model")
    sweep: dict[str, Any] = setting(help="method -> {knob: [values, weakest to strongest]}", factory=dict)
    n_resamples: int = setting(N_RESAMPLES, "paired-bootstrap resamples of the intervals")
    bootstrap_seed: int = setting(0, "seed of the bootstrap draws")

    def validate(self) -> None:
        where = "study config: frontier"
        if not self.budgets or not all(math.isfinite(b) and b >= 1.0 for b in self.budgets):
            raise RapidunError(f"{where}.budgets must list ratios >= 1 (e.g. [1.05, 1.10]), got {list(self.budgets)}")
        if not self.sweep:
            raise RapidunError(
                f"{where}.sweep is empty; give each method one knob and its values, e.g. uniform: {{lr: [...]}}"
            )
        if self.n_resamples < 100:
            raise RapidunError(f"{where}.n_resamples must be >= 100, got {self.n_resamples}")
        for method, knobs in self.sweep.items():
            if not isinstance(knobs, dict) or len(knobs) != 1:
                raise RapidunError(
                    f"{where}.sweep.{method} must map exactly one knob to its values, e.g. {{lr: [0.0002, 0.0005]}}"
                )
            ((knob, values),) = knobs.items()
            if not isinstance(values, (list, tuple)) or len(values) < 1:
                raise RapidunError(f"{where}.sweep.{method}.{knob} must be a non-empty list of values")
            if len(set(map(str, values))) != len(values):
                raise RapidunError(f"{where}.sweep.{method}.{knob} repeats a value: {list(values)}")


def sweep_cells(spec: FrontierSpec, method_params: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict, dict]]:
    """(method, label, params, unlearn overrides) of every frontier cell, per method from weakest to strongest."""
    out = []
    for method, knobs in spec.sweep.items():
        ((knob, values),) = knobs.items()
        for value in values:
            label = f"{knob}={value}"
            if knob in UNLEARN_KNOBS:
                out.append((method, label, dict(method_params.get(method, {})), {knob: value}))
            else:
                out.append((method, label, {**method_params.get(method, {}), knob: value}, {}))
    return out


def params_fields(method: Any) -> set[str]:
    """The parameter names of a registry method (its params dataclass's fields; empty when it has none)."""
    cls = method.params_cls
    return {f.name for f in dataclasses.fields(cls)} if cls is not None and dataclasses.is_dataclass(cls) else set()
