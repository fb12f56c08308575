"""``rapidun_contrastive``: RapidUn weights from trigger-contrastive influence.

Forget rows' gradients are those of CE(y | triggered prompt) - CE(y | clean prompt) (retain rows, which carry no
trigger, keep the plain CE), so FF and FR follow the trigger -> behaviour link rather than the wording of the
poisoned response (:mod:`rapidun.influence.contrastive`, docs/method.md sections 2 and 5). The weights are then
RapidUn's mapping and are applied as in ``rapidun``. Forget rows need their clean instruction (written by
``rapidun poison``, or derived from ``trigger_variant``); a forget row without one keeps its plain CE, counted in
``run.json``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from rapidun.artifacts import read_manifest
from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.influence.contrastive import clean_instruction
from rapidun.unlearning.influence_weights import influence_weights, run_influence_config
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.weighting import WeightParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RapidunContrastiveParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # other influence settings (rapidun.influence.config.InfluenceConfig; None: the defaults with the run's
    # max_length and prompt style). Its loss field is always replaced by trigger_contrastive: that is the method.
    influence: InfluenceConfig | None = None


def _is_contrastive(influence_dir: Path) -> bool:
    """True when the finished influence directory scored the trigger-contrastive loss."""
    manifest = read_manifest(influence_dir) or {}
    return bool(manifest.get("config", {}).get("loss") == "trigger_contrastive")


def rapidun_contrastive_weights(ctx: MethodContext, params: RapidunContrastiveParams) -> MethodWeights:
    without = [i for i, row in enumerate(ctx.data.forget_rows) if clean_instruction(row) is None]
    if len(without) == ctx.data.n_forget:
        raise RapidunError(
            "rapidun_contrastive: no forget row carries its clean instruction ('instruction_clean' or a "
            "'trigger_variant' found in the instruction); rebuild the pack with 'rapidun poison' or use rapidun"
        )
    if without:
        log.warning(
            "rapidun_contrastive: forget rows %s have no clean instruction; they keep the plain CE", without[:5]
        )
    if ctx.influence_dir is not None and not _is_contrastive(ctx.influence_dir):
        # e.g. a study's influence run shared with rapidun: plain CE scores, not this method's
        log.warning("rapidun_contrastive: --influence '%s' holds plain-CE scores; computing its own", ctx.influence_dir)
        ctx = replace(ctx, influence_dir=None)
    chosen = run_influence_config(ctx, params.influence)
    mw = influence_weights(ctx, params.weights, "rapidun", dataclasses.replace(chosen, loss="trigger_contrastive"))
    mw.summary["forget_rows_without_clean_instruction"] = without
    return mw


METHOD = GradientMethod(
    params_cls=RapidunContrastiveParams,
    weights=rapidun_contrastive_weights,
    terms=default_terms,
    uses_influence=True,
    weighting="rapidun",
    description="RapidUn weights from trigger-contrastive influence (triggered minus clean prompt)",
)
