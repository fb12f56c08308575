"""``rapidun plan``: parameter count, predicted peak memory and time per stage from a model's config alone (a
meta-device build, no weights); see :mod:`rapidun.modeling.plan` for the model of each number."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.cli.model_flags import add_model_flags
    from rapidun.modeling.plan import PlanSettings
    from rapidun.settings import add_arguments as add_settings

    parser.add_argument("--model", required=True, help="config.json, model directory, hub id, or size name")
    add_model_flags(parser, arch=False)
    parser.set_defaults(plan_flags=add_settings(parser, PlanSettings))
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args: argparse.Namespace) -> int:
    from rapidun.cli.model_flags import model_settings
    from rapidun.costs import current_rss_mb
    from rapidun.modeling.plan import PlanSettings, plan_model
    from rapidun.settings import collect, from_mapping

    settings = from_mapping(PlanSettings, collect(args, args.plan_flags), "rapidun plan")
    weights = model_settings(args, "plan")
    plan = plan_model(args.model, settings, weights.dtype, runtime_mb=current_rss_mb())
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2))
        return 0
    print(
        f"{plan.model} ({plan.model_type}, {plan.dtype}): {plan.parameters:,} parameters; LoRA r={settings.lora_r} "
        f"on {','.join(plan.lora_targets)}: {plan.lora_parameters:,}"
    )
    print(f"{'stage':<11}{'peak MB':>10}{'weights':>10}{'state':>10}{'activ.':>10}{'tokens':>12}{'time':>12}")
    for s in plan.stages:
        print(
            f"{s.stage:<11}{s.peak_mb:>10.0f}{s.weights_mb:>10.0f}{s.training_state_mb:>10.0f}"
            f"{s.activations_mb:>10.0f}{s.tokens:>12,}{s.seconds:>11.1f}s"
        )
    print(f"peak includes the runtime ({plan.runtime_mb:.0f} MB); time at {plan.flops_per_s:.2g} FLOP/s")
    return 0
