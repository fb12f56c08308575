"""Weighting stage: influence matrices -> fused scores -> bounded, mean-one per-sample weights.

Paper: RapidUn (arXiv 2512.04457) section "fusion and weight mapping"; spec in docs/method.md sections 2-3.
"""

from rapidun.weighting.aggregate import AGGREGATIONS, aggregate
from rapidun.weighting.compute import WEIGHTINGS, GroupWeights, WeightParams, WeightResult, compute_weights
from rapidun.weighting.files import load_weights, write_weights
from rapidun.weighting.mapping import fuse, robust_weights, robust_z
from rapidun.weighting.rapidin_dir import read_rapidin_dir
from rapidun.weighting.stage import read_influence_dir, weights_stage

__all__ = [
    "AGGREGATIONS",
    "WEIGHTINGS",
    "GroupWeights",
    "WeightParams",
    "WeightResult",
    "aggregate",
    "compute_weights",
    "fuse",
    "load_weights",
    "read_influence_dir",
    "read_rapidin_dir",
    "robust_weights",
    "robust_z",
    "weights_stage",
    "write_weights",
]
