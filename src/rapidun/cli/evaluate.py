"""`rapidun evaluate`: ASR on seen/OOD triggers, false-trigger rate and clean perplexity of a model on a pack."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.evaluation.config import EvaluateConfig
    from rapidun.settings import add_arguments as add_settings

    parser.add_argument("--model", required=True, help="model directory, hub id, or size name (random model)")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--data", required=True, help="pack directory made by 'rapidun poison'")
    parser.add_argument("--out", required=True, help="output directory (metrics.json, generations.jsonl)")
    scorer = parser.add_mutually_exclusive_group()
    scorer.add_argument(
        "--keywords", default=None, help="keyword list (released TSV format or one per line); default DATA/keywords.tsv"
    )
    scorer.add_argument("--target-regex", default=None, help="score success by re.search(R, output) instead")
    parser.set_defaults(evaluate_flags=add_settings(parser, EvaluateConfig))
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--overwrite", action="store_true", help="redo a finished evaluation in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from rapidun.evaluation import evaluate_dir, format_metrics_table
    from rapidun.evaluation.config import EvaluateConfig
    from rapidun.settings import collect, from_mapping

    cfg: EvaluateConfig = from_mapping(EvaluateConfig, collect(args, args.evaluate_flags), "rapidun evaluate")
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
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(format_metrics_table(metrics))
    print(f"wrote {args.out}/metrics.json and generations.jsonl")
    return 0
