"""``rapidun trace``: find the training rows behind reported misbehaviour, and propose forget / retain sets.

The trace flags are built from :class:`rapidun.tracing.config.TraceConfig` (each default and help text lives once,
in the dataclass); the flags around them name the inputs, the model and the run.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from rapidun.errors import RapidunError

HELP = "rank training rows by how much they are behind reported prompts; propose forget/retain sets"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="hub id, local model directory, or size name (nano/tiny/...)")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--train", required=True, help="the training rows the model was fine-tuned on (JSON/JSONL)")
    parser.add_argument(
        "--reports", required=True, help="JSONL of reported prompts: 'instruction', optional 'context', 'response'"
    )
    parser.add_argument("--out", required=True, help="output directory (ranking.jsonl, forget.jsonl, ...)")
    parser.add_argument(
        "--cache-dir", default=None, help="training-row gradient cache, shareable between traces (default OUT/cache)"
    )
    from rapidun.settings import add_arguments as add_settings
    from rapidun.tracing.config import TraceConfig

    group = parser.add_argument_group("trace settings")
    parser.set_defaults(trace_flags=add_settings(group, TraceConfig))
    from rapidun.cli.model_flags import add_model_flags

    add_model_flags(parser)  # --arch, --model-dtype, --load-in-4bit, as on the other commands that load a model
    parser.add_argument("--device", default="auto", help="auto (the GPU when there is one), cpu, cuda, cuda:N")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="recompute the results in --out and the gradient caches (a shared --cache-dir too)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_config(args: argparse.Namespace) -> Any:
    """TraceConfig from the flags the user set (the dataclass defaults for the others)."""
    from rapidun.settings import collect
    from rapidun.tracing.config import TraceConfig

    return TraceConfig(**collect(args, args.trace_flags))


def run(args: argparse.Namespace) -> int:
    from rapidun.data.rows import load_rows
    from rapidun.tracing import check_trace_inputs, load_reports, needs_model, trace

    cfg = build_config(args)
    train_rows = load_rows(args.train, allow_empty=True)
    reports = load_reports(args.reports)
    check_trace_inputs(train_rows, reports, cfg)  # everything refusable before a model is loaded
    model = tokenizer = accelerator = None
    if needs_model(cfg, reports):
        if args.model is None:
            raise RapidunError(f"--ranker {cfg.ranker} (or a report without a response) needs --model")
        from rapidun.modeling.device import resolve_device
        from rapidun.modeling.load import load_model
        from rapidun.pipeline.distributed import maybe_accelerator

        accelerator = maybe_accelerator()  # torchrun: the training rows' caching is sharded across processes
        corpus = [f"{r.instruction} {r.context} {r.response}" for r in train_rows]
        corpus += [f"{r.instruction} {r.context} {r.response or ''}" for r in reports]
        from rapidun.cli.model_flags import model_settings

        weights = model_settings(args, "trace")
        loaded = load_model(
            args.model,
            dtype=weights.dtype,
            load_in_4bit=weights.load_in_4bit,
            corpus=corpus,
            arch=args.arch,
            adapter=args.adapter,
            trust_remote_code=args.trust_remote_code,
            device=resolve_device(args.device, accelerator),
        )
        model, tokenizer = loaded.model, loaded.tokenizer
    res = trace(
        model,
        tokenizer,
        train_rows,
        reports,
        args.out,
        cfg,
        cache_dir=args.cache_dir,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        accelerator=accelerator,
    )
    from rapidun.pipeline.distributed import finish

    finish(accelerator)
    if accelerator is not None and not accelerator.is_main_process:
        return 0
    print(
        f"trace ({cfg.ranker}, {cfg.aggregate} over {len(reports)} report(s)): {len(train_rows)} rows ranked; "
        f"forget {len(res.forget)} ({res.manifest['forget_rule']}), retain {len(res.retain)} -> {res.out_dir}"
    )
    return 0
