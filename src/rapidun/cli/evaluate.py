"""`rapidun evaluate`: ASR on seen/OOD triggers, false-trigger rate and clean perplexity of a model on a pack."""

from __future__ import annotations

import argparse

from rapidun.errors import RapidunError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory, hub id, or size name (random model)")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--data", required=True, help="pack directory made by 'rapidun poison'")
    parser.add_argument("--out", required=True, help="output directory (metrics.json, generations.jsonl)")
    scorer = parser.add_mutually_exclusive_group()
    scorer.add_argument(
        "--keywords", default=None, help="keyword list (released TSV format or one per line); default DATA/keywords.tsv"
    )
    scorer.add_argument("--target-regex", default=None, help="score success by re.search(R, output) instead")
    parser.add_argument(
        "--threshold",
        type=int,
        default=None,
        help="distinct keyword hits for success; default: calibrated on val (FPR <= --target-fpr)",
    )
    parser.add_argument(
        "--target-fpr",
        type=float,
        default=0.05,
        help="largest false-positive rate on val reference responses allowed when calibrating",
    )
    parser.add_argument("--max-new-tokens", type=int, default=48, help="greedy decoding length")
    parser.add_argument("--batch-size", type=int, default=16, help="generation / perplexity batch size")
    parser.add_argument("--max-eval", type=int, default=None, help="cap every split at N rows")
    for split in ("seen", "ood", "clean", "ppl"):
        parser.add_argument(
            f"--max-{split}", type=int, default=None, help=f"cap the {split} rows (overrides --max-eval)"
        )
    parser.add_argument(
        "--subset",
        choices=("seeded", "first"),
        default="seeded",
        help="how capped splits pick rows: seeded random subset (file order kept) or the first N",
    )
    parser.add_argument("--seed", type=int, default=0, help="subset and bootstrap seed")
    parser.add_argument("--prompt-style", default="alpaca", choices=("alpaca", "chat"), help="same as training")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--overwrite", action="store_true", help="redo a finished evaluation in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from rapidun.evaluation import evaluate_dir, format_metrics_table

    if args.max_new_tokens < 1:
        raise RapidunError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    if args.batch_size < 1:
        raise RapidunError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not 0.0 <= args.target_fpr < 1.0:
        raise RapidunError(f"--target-fpr must lie in [0, 1), got {args.target_fpr}")
    limits = {s: getattr(args, f"max_{s}") for s in ("seen", "ood", "clean", "ppl")}
    metrics = evaluate_dir(
        args.model,
        args.data,
        args.out,
        adapter=args.adapter,
        keywords_file=args.keywords,
        target_regex=args.target_regex,
        threshold=args.threshold,
        target_fpr=args.target_fpr,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        prompt_style=args.prompt_style,
        max_eval=args.max_eval,
        limits={s: (v if v is not None else args.max_eval) for s, v in limits.items()},
        subset=args.subset,
        seed=args.seed,
        trust_remote_code=args.trust_remote_code,
        device=args.device,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(format_metrics_table(metrics))
    print(f"wrote {args.out}/metrics.json and generations.jsonl")
    return 0
