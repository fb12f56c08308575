"""`rapidun evaluate`: ASR on seen/OOD triggers, false-trigger rate and clean perplexity of a model on a backdoor
pack; on a facts pack (``meta.json`` task "facts", from ``rapidun facts``): answer accuracy, ROUGE-L, truth ratio,
forget quality, membership inference and PII leakage (:mod:`rapidun.evaluation.facts`)."""

from __future__ import annotations

import argparse
from typing import Any

from rapidun.errors import RapidunError

TASKS = ("backdoor", "facts")  # what a pack directory can hold (meta.json "task")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.cli.model_flags import add_model_flags
    from rapidun.evaluation.config import EvaluateConfig
    from rapidun.settings import add_arguments as add_settings

    parser.add_argument("--model", required=True, help="model directory, hub id, or size name (random model)")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--data", required=True, help="pack directory made by 'rapidun poison'")
    parser.add_argument("--out", required=True, help="output directory (metrics.json, generations.jsonl)")
    parser.add_argument(
        "--task",
        default="auto",
        choices=("auto", *TASKS),
        help="what the pack holds (default auto: the pack's meta.json 'task', else backdoor)",
    )
    parser.add_argument(
        "--reference", default=None, help="facts task: the retrained model's facts evaluation dir (forget quality)"
    )
    scorer = parser.add_mutually_exclusive_group()
    scorer.add_argument(
        "--keywords", default=None, help="keyword list (released TSV format or one per line); default DATA/keywords.tsv"
    )
    scorer.add_argument("--target-regex", default=None, help="score success by re.search(R, output) instead")
    parser.set_defaults(evaluate_flags=add_settings(parser, EvaluateConfig))
    add_model_flags(parser, arch=False)  # --model-dtype, --load-in-4bit, as on every command that loads a model
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--overwrite", action="store_true", help="redo a finished evaluation in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def pack_kind(args: argparse.Namespace) -> str:
    """The task to evaluate: ``--task``, checked against the pack's own (a mismatch is one line, exit 2)."""
    from rapidun.data.facts import pack_task

    found = pack_task(args.data)
    if args.task not in ("auto", found):
        raise RapidunError(
            f"--data '{args.data}' is a {found} pack but --task is {args.task}; drop --task (or pass --task {found})"
        )
    return found


def run_facts(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """The facts evaluation; flags shared with the backdoor evaluation override its own defaults when given."""
    import dataclasses
    import json

    from rapidun.evaluation.facts import FactsEvalConfig
    from rapidun.evaluation.facts_directory import evaluate_facts_dir

    shared = {k: v for k, v in given.items() if k in {f.name for f in dataclasses.fields(FactsEvalConfig)}}
    config = FactsEvalConfig(**shared, progress=not args.no_progress)
    metrics = evaluate_facts_dir(
        args.model,
        args.data,
        args.out,
        adapter=args.adapter,
        reference=args.reference,
        config=config,
        device=args.device,
        trust_remote_code=args.trust_remote_code,
        overwrite=args.overwrite,
    )
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}, indent=1))
    print(f"wrote {args.out}/metrics.json and generations.jsonl")
    return 0


def run(args: argparse.Namespace) -> int:
    from rapidun.cli.model_flags import model_settings
    from rapidun.evaluation import evaluate_dir, format_metrics_table
    from rapidun.evaluation.config import EvaluateConfig
    from rapidun.modeling.precision import ModelSettings
    from rapidun.settings import collect, from_mapping

    given = collect(args, args.evaluate_flags)
    weights = model_settings(args, "evaluate")
    if pack_kind(args) == "facts":
        if weights != ModelSettings():
            raise RapidunError("--model-dtype / --load-in-4bit apply to backdoor packs; drop them for a facts pack")
        return run_facts(args, given)
    if args.reference is not None:
        raise RapidunError("--reference is for facts packs (forget quality); drop it for a backdoor pack")
    cfg: EvaluateConfig = from_mapping(EvaluateConfig, given, "rapidun evaluate")
    cfg.validate()
    metrics = evaluate_dir(
        args.model,
        args.data,
        args.out,
        adapter=args.adapter,
        keywords_file=args.keywords,
        target_regex=args.target_regex,
        threshold=cfg.threshold,
        target_fpr=cfg.target_fpr,
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.batch_size,
        prompt_style=cfg.prompt_style,
        max_eval=cfg.max_eval,
        limits=cfg.limits(),
        subset=cfg.subset,
        seed=cfg.seed,
        trust_remote_code=args.trust_remote_code,
        device=args.device,
        model_settings=weights,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(format_metrics_table(metrics))
    print(f"wrote {args.out}/metrics.json and generations.jsonl")
    return 0
