"""``rapidun weights``: map influence scores (ours or RapidIn's JSON) to per-sample forget/retain weights."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from typing import Any

from rapidun.errors import RapidunError

HELP = "map influence scores to bounded, mean-one per-sample weights"

# Flag name -> WeightParams field (all default to None so we can tell what the user set).
_NUMERIC = {
    "top_k": int,
    "alpha": float,
    "beta": float,
    "gamma": float,
    "delta": float,
    "tau_f": float,
    "tau_r": float,
    "w_min": float,
    "w_max": float,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--influence", metavar="DIR", help="finished 'rapidun influence' output (scores.safetensors)")
    src.add_argument(
        "--rapidin-dir", metavar="DIR", help="RapidIn output with influence_results_*.json (FF, FR, RF, RR)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory for the weight files")
    parser.add_argument(
        "--faithful", action="store_true", help="the released code's aggregation: top-40 per query, then median"
    )
    parser.add_argument("--aggregation", choices=["median", "topk_median"], help="default median (no truncation)")
    parser.add_argument("--weighting", default="rapidun", choices=["rapidun", "uniform", "self_only"])
    defaults = {f.name: f for f in fields(_params_cls())}
    for name, typ in _NUMERIC.items():
        f = defaults[name]
        parser.add_argument(
            "--" + name.replace("_", "-"), type=typ, default=None, help=f"{f.metadata['help']} (default {f.default})"
        )
    parser.add_argument("--overwrite", action="store_true", help="recompute even if --out holds finished weights")


def _params_cls() -> Any:
    from rapidun.weighting.compute import WeightParams

    return WeightParams


def build_params(args: argparse.Namespace) -> Any:
    """WeightParams from the flags: --faithful first, then explicit flags, then the named weighting."""
    from rapidun.weighting.compute import WEIGHTINGS, WeightParams

    params = WeightParams.faithful() if args.faithful else WeightParams()
    if args.aggregation is not None:
        params = replace(params, aggregation=args.aggregation)
    explicit = {name: getattr(args, name) for name in _NUMERIC if getattr(args, name) is not None}
    params = replace(params, **explicit)
    clash = sorted(set(WEIGHTINGS[args.weighting]) & set(explicit))
    if clash:
        flags = ", ".join("--" + c.replace("_", "-") for c in clash)
        raise RapidunError(f"--weighting {args.weighting} fixes {flags}; drop those flags or use --weighting rapidun")
    return params.with_weighting(args.weighting)


def run(args: argparse.Namespace) -> int:
    from rapidun.weighting.stage import weights_stage

    params = build_params(args)
    summary, reused = weights_stage(
        args.out, params, influence_dir=args.influence, rapidin_dir=args.rapidin_dir, overwrite=args.overwrite
    )
    agg = params.aggregation + (f" (top-{params.top_k})" if params.aggregation == "topk_median" else "")
    print(f"{'reused' if reused else 'wrote'} {params.weighting} weights in {args.out} (aggregation {agg})")
    for group in ("forget", "retain"):
        s = summary[group]
        print(
            f"  {group}: n={s['n']} min={s['min']:.4f} median={s['median']:.4f} max={s['max']:.4f} "
            f"std={s['std']:.4f} distinct={s['distinct']} at_w_min={s['at_w_min']} at_w_max={s['at_w_max']}"
        )
    return 0
