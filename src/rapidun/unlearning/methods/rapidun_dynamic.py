"""``rapidun_dynamic``: RapidUn with forget weights recomputed from influence on the current adapter every
``refresh_every`` steps (RapidUn's open question 1; docs/method.md section 5).

Step 0 uses the static ``rapidun`` weights (from ``--influence`` or influence computed on the starting model). At
steps K, 2K, ... the influence stage is rerun on the training model (the starting model plus the current LoRA
adapter, eval mode, parameters frozen) into ``OUT/influence_refresh/step<t>`` (its gradient caches are deleted
after scoring), and the forget weights are recomputed with the same :class:`WeightParams`; retain weights stay
fixed. Each refresh's weights go to ``OUT/rapidun_weights.json`` (a resumed run restores them) and its seconds to
``run.json`` (``weights.refresh_seconds``; they are part of the training time).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import (
    influence_weights_with_scores,
    run_influence_config,
    static_forget_weights,
)
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.unlearning.objective import RefreshFn
from rapidun.unlearning.refresh_history import history_refresh
from rapidun.weighting import WeightParams

HISTORY = "rapidun_weights.json"


@dataclass(frozen=True)
class RapidunDynamicParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings (fields of rapidun.influence.stage.InfluenceConfig), used at the start and every refresh
    influence: InfluenceConfig | None = None  # None: the defaults with the run's max_length and prompt style
    refresh_every: int = field(default=80, metadata={"help": "optimiser steps between influence recomputations"})

    def __post_init__(self) -> None:
        if self.refresh_every < 1:
            raise RapidunError(f"rapidun_dynamic parameter refresh_every must be >= 1, got {self.refresh_every}")


def rapidun_dynamic_weights(ctx: MethodContext, params: RapidunDynamicParams) -> MethodWeights:
    if ctx.weights_dir is not None:
        raise RapidunError("rapidun_dynamic recomputes influence during training; pass --influence, not --weights")
    if ctx.accelerator is not None and ctx.accelerator.num_processes > 1:
        raise RapidunError("rapidun_dynamic runs in one process only (its refreshes are not sharded); drop accelerate")
    mw, _ = influence_weights_with_scores(ctx, params.weights, "rapidun", params.influence)
    mw.summary["refresh_every"] = params.refresh_every
    return mw


def rapidun_refresh(model: Any, ctx: MethodContext, params: RapidunDynamicParams) -> RefreshFn:
    from rapidun.influence.stage import compute_influence

    def compute(step: int) -> np.ndarray:
        if step == 0:  # the starting model's scores, computed (or given) before training
            return static_forget_weights(ctx, params.weights)
        out = ctx.out_dir / "influence_refresh" / f"step{step}"
        cfg = run_influence_config(ctx, params.influence)
        was_training = model.training
        try:
            rows = (ctx.data.forget_rows, ctx.data.retain_rows)
            compute_influence(model, ctx.tokenizer, *rows, out, progress=False, overwrite=True, cfg=cfg)
        finally:
            model.train(was_training)
        shutil.rmtree(out / "cache", ignore_errors=True)
        return static_forget_weights(ctx, params.weights, out)

    return history_refresh(ctx.out_dir / HISTORY, params.refresh_every, compute, ctx.is_main, "rapidun_dynamic")


METHOD = GradientMethod(
    params_cls=RapidunDynamicParams,
    weights=rapidun_dynamic_weights,
    terms=default_terms,
    refresh=rapidun_refresh,
    uses_influence=True,
    weighting="rapidun",
    description="RapidUn with forget weights recomputed from influence on the current adapter",
)
