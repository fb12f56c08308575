"""``rapidun weights``: map influence scores (ours or RapidIn's JSON) to per-sample forget/retain weights."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from rapidun.errors import RapidunError

HELP = "map influence scores to bounded, mean-one per-sample weights"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.settings import add_arguments as add_settings
    from rapidun.weighting.compute import WeightParams

    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--influence", metavar="DIR", help="finished 'rapidun influence' output (scores.safetensors)")
    src.add_argument(
        "--rapidin-dir", metavar="DIR", help="RapidIn output with influence_results_*.json (FF, FR, RF, RR)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory for the weight files")
    parser.add_argument(
        "--faithful", action="store_true", help="the released code's aggregation: top-k per query, then median"
    )
    parser.set_defaults(weight_flags=add_settings(parser, WeightParams))
    parser.add_argument("--overwrite", action="store_true", help="recompute even if --out holds finished weights")


def build_params(args: argparse.Namespace) -> Any:
    """WeightParams from the flags: --faithful first, then explicit flags, then the named weighting."""
    from rapidun.settings import collect
    from rapidun.weighting.compute import WEIGHTINGS, WeightParams

    params = WeightParams.faithful() if args.faithful else WeightParams()
    explicit = collect(args, args.weight_flags)
    weighting = explicit.pop("weighting", params.weighting)
    params = replace(params, **explicit)
    clash = sorted(set(WEIGHTINGS[weighting]) & set(explicit))
    if clash:
        flags = ", ".join("--" + c.replace("_", "-") for c in clash)
        raise RapidunError(
            f"--weighting {weighting} fixes {flags}; drop those flags or use --weighting {WeightParams().weighting}"
        )
    return params.with_weighting(weighting)


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
