"""``rapidun_coverage``: RapidUn's influence weights, rescaled so every cluster of similar forget rows is covered.

Forget rows are clustered by the cosine of their FF influence and each forget weight is divided by its cluster's
mean weight (:mod:`rapidun.weighting.coverage`, docs/method.md section 5), so weighted ascent does not starve rare
kinds of forget row (e.g. a rare response template). Retain weights are RapidUn's. Needs influence scores (not
``--weights``): the clusters come from FF.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.influence_weights import influence_weights_with_scores
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights, default_terms
from rapidun.weighting import WeightParams
from rapidun.weighting.coverage import cluster_mean_one, ff_clusters


@dataclass(frozen=True)
class RapidunCoverageParams:
    weights: WeightParams = field(default_factory=WeightParams)
    # influence settings (fields of rapidun.influence.stage.InfluenceConfig) when influence is computed here
    influence: InfluenceConfig | None = None  # None: the defaults with the run's max_length and prompt style
    n_clusters: int = field(default=0, metadata={"help": "clusters of forget rows (0: ceil(sqrt(forget rows)))"})
    max_distance: float | None = field(
        default=None, metadata={"help": "cut at this cosine distance (1 - FF cosine, in [0, 2]) instead of n_clusters"}
    )

    def __post_init__(self) -> None:
        if self.n_clusters < 0:
            raise RapidunError(f"rapidun_coverage parameter n_clusters must be >= 0, got {self.n_clusters}")
        if self.max_distance is not None and not 0.0 <= self.max_distance <= 2.0:
            raise RapidunError(f"rapidun_coverage parameter max_distance must be in [0, 2], got {self.max_distance}")


def rapidun_coverage_weights(ctx: MethodContext, params: RapidunCoverageParams) -> MethodWeights:
    if ctx.weights_dir is not None:
        raise RapidunError("rapidun_coverage clusters forget rows by their FF scores; pass --influence, not --weights")
    mw, mats = influence_weights_with_scores(ctx, params.weights, "rapidun", params.influence)
    with ctx.ledger.stage("weights"):
        labels = ff_clusters(mats["FF"], params.n_clusters, params.max_distance)
        forget = cluster_mean_one(mw.forget, labels)
    sizes = np.bincount(labels).tolist()
    summary = {
        **mw.summary,
        "coverage": {
            "clusters": sizes,
            "labels": labels.tolist(),
            "n_clusters": params.n_clusters,
            "max_distance": params.max_distance,
        },
    }
    return MethodWeights(forget, mw.retain, f"{mw.source} (coverage: {len(sizes)} clusters)", summary)


METHOD = GradientMethod(
    params_cls=RapidunCoverageParams,
    weights=rapidun_coverage_weights,
    terms=default_terms,
    uses_influence=True,
    weighting="rapidun",
    description="RapidUn influence weights with every FF-similarity cluster at mean weight 1",
)
