"""``rapidun influence``: RapidIn-style influence of forget/retain rows on each other (FF, FR, RF, RR), or of
arbitrary ``--train`` rows on ``--query`` rows (QT)."""

from __future__ import annotations

import argparse
import logging

from rapidun.errors import RapidunError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.cli.model_flags import add_model_flags
    from rapidun.influence.config import InfluenceConfig
    from rapidun.settings import add_arguments as add_settings

    parser.add_argument("--model", required=True, help="hub id, local model directory, or size name (nano/tiny/...)")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--forget", help="forget rows (JSON/JSONL)")
    parser.add_argument("--retain", help="retain rows (JSON/JSONL)")
    parser.add_argument("--train", help="training rows for arbitrary sets (with --query)")
    parser.add_argument("--query", help="query rows for arbitrary sets (with --train)")
    parser.add_argument("--out", required=True, help="output directory (scores.safetensors, manifest.json, ...)")
    parser.set_defaults(influence_flags=add_settings(parser, InfluenceConfig))
    parser.add_argument("--cache-dir", default=None, help="gradient cache directory (default OUT/cache)")
    add_model_flags(parser)
    parser.add_argument("--device", default="auto", help="auto (the GPU when there is one), cpu, cuda, cuda:N")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--overwrite", action="store_true", help="recompute caches and results in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from rapidun.data.rows import load_rows
    from rapidun.influence.config import InfluenceConfig
    from rapidun.influence.stage import compute_influence, compute_pairwise
    from rapidun.modeling.load import load_model
    from rapidun.settings import collect, from_mapping

    cfg: InfluenceConfig = from_mapping(InfluenceConfig, collect(args, args.influence_flags), "rapidun influence")
    cfg.validate()
    pairwise = args.train is not None or args.query is not None
    if pairwise:
        if args.train is None or args.query is None or args.forget or args.retain:
            raise RapidunError("give either --forget and --retain, or --train and --query (not a mix)")
        sets = {"train": load_rows(args.train, allow_empty=True), "query": load_rows(args.query, allow_empty=True)}
    else:
        if args.forget is None or args.retain is None:
            raise RapidunError("give --forget and --retain (or --train and --query)")
        sets = {"forget": load_rows(args.forget, allow_empty=True), "retain": load_rows(args.retain, allow_empty=True)}
    from rapidun.data.checks import check_unique

    for name, rows in sets.items():
        check_unique(rows, f"--{name} ({getattr(args, name)})")
    corpus = [f"{r.instruction} {r.context} {r.response}" for rows in sets.values() for r in rows]
    from rapidun.modeling.device import resolve_device
    from rapidun.pipeline.distributed import finish, maybe_accelerator

    accelerator = maybe_accelerator()  # torchrun / accelerate launch: rows of every set sharded across processes
    from rapidun.cli.model_flags import model_settings

    weights = model_settings(args, "influence")
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
    common = dict(
        cache_dir=args.cache_dir,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        accelerator=accelerator,
        cfg=cfg,
    )
    if pairwise:
        res = compute_pairwise(loaded.model, loaded.tokenizer, sets["train"], sets["query"], args.out, **common)
    else:
        res = compute_influence(loaded.model, loaded.tokenizer, sets["forget"], sets["retain"], args.out, **common)
    finish(accelerator)
    if accelerator is not None and not accelerator.is_main_process:
        return 0
    shapes = ", ".join(f"{k} {v.shape[0]}x{v.shape[1]}" for k, v in res.scores.items())
    total = sum(v.get("seconds", 0.0) for v in res.timings.values())
    top = f", top-{cfg.top_k} in topk.safetensors" if cfg.top_k else ""
    print(
        f"influence: {shapes} ({res.manifest['config']['projector']}, K={res.manifest['dim']}{top}) "
        f"in {total:.1f}s -> {res.out_dir}"
    )
    return 0
