"""Weights of the influence-weighted methods (rapidun, self_only) and the all-ones ablation (graddiff, uniform).

Order of precedence: ``--weights DIR`` (validated: one finite weight > 0 per row, indices matching the rows); else
``--influence DIR`` (FF, FR, RF, RR from a finished influence stage); else influence is computed here into
``OUT/influence``. Weights are then mapped by :func:`rapidun.weighting.compute_weights` (docs/method.md section 3) and
written to ``OUT/weights``. Each step is timed in the run's cost ledger as ``influence`` and ``weights``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rapidun.artifacts import atomic_write_jsonl, write_manifest
from rapidun.errors import RapidunError
from rapidun.influence.config import InfluenceConfig
from rapidun.unlearning.kinds import MethodContext, MethodWeights
from rapidun.weighting import WeightParams, compute_weights, load_weights, read_influence_dir, write_weights
from rapidun.weighting.files import FORGET_FILE, RETAIN_FILE, group_summary, weight_rows


def weights_from_dir(ctx: MethodContext) -> MethodWeights:
    """Weights read (and validated) from ``ctx.weights_dir``."""
    d = ctx.weights_dir
    assert d is not None
    if not d.is_dir():
        raise RapidunError(f"--weights '{d}' is not a directory; pass the --out of 'rapidun weights'")
    with ctx.ledger.stage("weights"):
        forget = load_weights(d / FORGET_FILE, ctx.data.n_forget)
        retain = load_weights(d / RETAIN_FILE, ctx.data.n_retain)
    return MethodWeights(forget, retain, f"weights_dir:{d}", _summary(forget, retain))


def _summary(forget: np.ndarray, retain: np.ndarray) -> dict[str, object]:
    def one(w: np.ndarray) -> dict[str, float]:
        return {
            "n": int(w.size),
            "min": float(w.min()),
            "max": float(w.max()),
            "mean": float(w.mean()),
            "std": float(w.std()),
        }

    return {"forget": one(forget), "retain": one(retain)}


def uniform_weights(ctx: MethodContext) -> MethodWeights:
    """Every weight exactly 1 (GradDiff / Uniform ablation); written to ``OUT/weights`` for the record."""
    with ctx.ledger.stage("weights"):
        forget, retain = np.ones(ctx.data.n_forget), np.ones(ctx.data.n_retain)
        out = ctx.out_dir / "weights"
        if ctx.is_main:
            atomic_write_jsonl(out / FORGET_FILE, weight_rows(forget))
            atomic_write_jsonl(out / RETAIN_FILE, weight_rows(retain))
            info = {
                "stage": "weights",
                "config": {"weighting": "uniform"},
                "n_forget": int(forget.size),
                "n_retain": int(retain.size),
            }
            write_manifest(out, info)
    return MethodWeights(forget, retain, "uniform", _summary(forget, retain))


def run_influence_config(ctx: MethodContext, chosen: InfluenceConfig | None) -> InfluenceConfig:
    """The influence settings of a run: the method's ``influence`` block, else the defaults with the run's
    max_length and prompt style (so influence sees the examples the unlearning trains on)."""
    if chosen is not None:
        return chosen
    return InfluenceConfig(max_length=ctx.cfg.max_length, prompt_style=ctx.cfg.prompt_style)


def compute_influence_dir(ctx: MethodContext, cfg: InfluenceConfig) -> Path:
    """Run the influence stage on the starting model into ``OUT/influence`` (reused there when finished)."""
    from rapidun.influence.stage import compute_influence

    out = ctx.out_dir / "influence"
    rows = (ctx.data.forget_rows, ctx.data.retain_rows)
    with ctx.ledger.stage("influence"):
        if ctx.is_main:  # other processes wait, then read the finished directory
            compute_influence(ctx.model, ctx.tokenizer, *rows, out, progress=ctx.progress, cfg=cfg)
        ctx.barrier()
    return out


def influence_weights(
    ctx: MethodContext, params: WeightParams, weighting: str, influence: InfluenceConfig | None = None
) -> MethodWeights:
    """Weights of the named weighting (``rapidun`` or ``self_only``) from influence scores; ``influence``: the
    settings used when the scores are computed here (validated before any work)."""
    if ctx.weights_dir is not None:
        return weights_from_dir(ctx)
    return influence_weights_with_scores(ctx, params, weighting, influence)[0]


def read_checked_scores(ctx: MethodContext, influence_dir: Path) -> dict[str, np.ndarray]:
    """FF, FR, RF, RR of a finished influence dir, refused when computed for other row counts."""
    mats = read_influence_dir(influence_dir)
    n_f, n_r = ctx.data.n_forget, ctx.data.n_retain
    if mats["FF"].shape != (n_f, n_f) or mats["RR"].shape != (n_r, n_r):
        raise RapidunError(
            f"--influence '{influence_dir}' was computed for {mats['FF'].shape[0]} forget / "
            f"{mats['RR'].shape[0]} retain rows, but the data has {n_f} / {n_r}; recompute it"
        )
    return mats


def influence_weights_with_scores(
    ctx: MethodContext, params: WeightParams, weighting: str, influence: InfluenceConfig | None = None
) -> tuple[MethodWeights, dict[str, np.ndarray]]:
    """Influence weights (ignoring ``--weights``) and the score matrices they came from."""
    influence_dir = ctx.influence_dir
    if influence_dir is None:
        cfg = run_influence_config(ctx, influence)
        cfg.validate()
        influence_dir = compute_influence_dir(ctx, cfg)
    wparams = params.with_weighting(weighting)
    with ctx.ledger.stage("weights"):
        mats = read_checked_scores(ctx, influence_dir)
        result = compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], wparams)
    with ctx.ledger.stage("write_weights"):  # files and the histogram figure: not part of the method's cost
        if ctx.is_main:
            source = {"kind": "influence", "path": str(influence_dir)}
            write_weights(ctx.out_dir / "weights", result, wparams, source)
    summary = {
        "forget": group_summary(result.forget, wparams.w_min, wparams.w_max),
        "retain": group_summary(result.retain, wparams.w_min, wparams.w_max),
        "params": wparams.to_dict(),
    }
    weights = MethodWeights(result.forget.weights, result.retain.weights, f"influence:{influence_dir}", summary)
    return weights, mats


def static_forget_weights(ctx: MethodContext, params: WeightParams, scores_dir: Path | None = None) -> np.ndarray:
    """``rapidun`` forget weights (nF,) from the scores in ``scores_dir`` (default: ``--influence``, or the
    influence computed into OUT/influence), read again and nothing written: what a dynamic method starts from."""
    mats = read_checked_scores(ctx, scores_dir or ctx.influence_dir or ctx.out_dir / "influence")
    weighting = "rapidun"
    wparams = params.with_weighting(weighting)
    return compute_weights(mats["FF"], mats["FR"], mats["RF"], mats["RR"], wparams).forget.weights
