"""``ga``: gradient ascent on the forget rows only: loss = -CE(poisoned response | triggered prompt), weight 1.

No retain term and no clean-label term. Its budget (``draws``, docs/method.md section 5):

- ``"all"`` (the default before round 4; set it to reproduce earlier results): ``epochs x (|F| + |R|)`` draws, every one a forget row:
  the same number of *steps* as the mixed methods, but about ``1 + retain_ratio`` times (4x by default) more
  forget-row steps (40 forget / 120 retain rows, 2 epochs: 320 ascent steps where the others make ~80);
- ``"matched"`` (default, the fair setting): exactly as many forget-row draws as the mixed schedule of the same seed holds,
  so GA gets the same forget-row budget as graddiff, npo and the rest (80 in the example above);
- ``"forget"``: ``epochs x |F|`` draws (the expected forget-row count of the mixed schedule when
  ``retain_ratio = |R| / |F|``).

``--weights DIR`` multiplies each forget row's ascent by its weight (:mod:`rapidun.unlearning.plugin_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rapidun.errors import RapidunError
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights
from rapidun.unlearning.objective import ObjectiveTerms
from rapidun.unlearning.plugin_weights import plugin_weights

DRAWS = {"all": "forget_all", "matched": "forget_matched", "forget": "forget"}  # draws -> schedule kind


@dataclass(frozen=True)
class GAParams:
    # "all": epochs x (|F| + |R|) forget draws; "matched" (fair): the mixed schedule's forget draws; "forget":
    # epochs x |F|
    draws: str = "matched"

    def __post_init__(self) -> None:
        if self.draws not in DRAWS:
            raise RapidunError(f"ga parameter draws must be one of {', '.join(DRAWS)}, got {self.draws!r}")


def ga_weights(ctx: MethodContext, params: GAParams) -> MethodWeights:
    def own() -> MethodWeights:
        with ctx.ledger.stage("weights"):
            forget, retain = np.ones(ctx.data.n_forget), np.zeros(ctx.data.n_retain)
        return MethodWeights(forget, retain, "ga: forget weight 1, no retain term")

    return plugin_weights(ctx, own)


def ga_terms(cfg: UnlearnConfig, params: GAParams) -> ObjectiveTerms:
    return ObjectiveTerms(
        clean_coef=0.0,
        ascent_coef=cfg.ascent_coef,
        clean_term=False,
        retain_term=False,
        bounded_ascent=cfg.bounded_ascent,
    )


METHOD = GradientMethod(
    params_cls=GAParams,
    weights=ga_weights,
    terms=ga_terms,
    schedule=lambda params: DRAWS[params.draws],
    takes_weights=True,
    description="gradient ascent on the forget rows only",
)
