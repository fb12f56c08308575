"""``rapidun influence``: RapidIn-style influence of forget/retain rows on each other (FF, FR, RF, RR), or of
arbitrary ``--train`` rows on ``--query`` rows (QT)."""

from __future__ import annotations

import argparse
import logging

from rapidun.errors import RapidunError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.influence.hooks import PARAM_CHOICES
    from rapidun.influence.projector_registry import DEFAULT_PROJECTOR, PROJECTORS

    parser.add_argument("--model", required=True, help="hub id, local model directory, or size name (nano/tiny/...)")
    parser.add_argument("--adapter", default=None, help="PEFT adapter directory applied on top of --model")
    parser.add_argument("--forget", help="forget rows (JSON/JSONL)")
    parser.add_argument("--retain", help="retain rows (JSON/JSONL)")
    parser.add_argument("--train", help="training rows for arbitrary sets (with --query)")
    parser.add_argument("--query", help="query rows for arbitrary sets (with --train)")
    parser.add_argument("--out", required=True, help="output directory (scores.safetensors, manifest.json, ...)")
    parser.add_argument(
        "--projector",
        default=DEFAULT_PROJECTOR,
        choices=list(PROJECTORS),
        help=f"gradient compression (default {DEFAULT_PROJECTOR})",
    )
    parser.add_argument("--dim", type=int, default=None, help="projected dimension K (default 65536)")
    parser.add_argument(
        "--params",
        default="lora-targets",
        choices=list(PARAM_CHOICES),
        help="tracked parameters: LoRA target layers, all linear layers, or the adapter's",
    )
    parser.add_argument("--no-layer-norm", action="store_true", help="do not L2-normalise each layer's gradient")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--prompt-style", default="alpaca", choices=["alpaca", "chat"])
    parser.add_argument("--seed", type=int, default=0, help="projector seed")
    parser.add_argument("--dtype", default="fp16", choices=["fp16", "fp32", "int8"], help="cache storage type")
    parser.add_argument("--per-token", action="store_true", help="also write each query token's influence")
    parser.add_argument("--hotwords", default=None, help="comma-separated words: restrict query losses to them")
    parser.add_argument("--top-k", type=int, default=None, help="also write the exact top-k train rows per query")
    parser.add_argument("--cache-dir", default=None, help="gradient cache directory (default OUT/cache)")
    parser.add_argument("--no-rapidin-json", action="store_true", help="skip RapidIn-format JSON exports")
    parser.add_argument("--arch", default="llama", choices=["llama", "mistral"], help="architecture for size names")
    parser.add_argument("--device", default="auto", help="auto (the GPU when there is one), cpu, cuda, cuda:N")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--overwrite", action="store_true", help="recompute caches and results in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from rapidun.data.rows import load_rows
    from rapidun.influence.stage import compute_influence, compute_pairwise
    from rapidun.modeling.load import load_model

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
    if args.batch_size < 1 or args.max_length < 2:
        raise RapidunError("--batch-size must be >= 1 and --max-length >= 2")
    corpus = [f"{r.instruction} {r.context} {r.response}" for rows in sets.values() for r in rows]
    from rapidun.modeling.device import resolve_device
    from rapidun.pipeline.distributed import finish, maybe_accelerator

    accelerator = maybe_accelerator()  # torchrun / accelerate launch: rows of every set sharded across processes
    loaded = load_model(
        args.model,
        corpus=corpus,
        arch=args.arch,
        adapter=args.adapter,
        trust_remote_code=args.trust_remote_code,
        device=resolve_device(args.device, accelerator),
    )
    settings = dict(
        projector=args.projector,
        dim=args.dim,
        params=args.params,
        layer_norm=not args.no_layer_norm,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        dtype=args.dtype,
        per_token=args.per_token,
        prompt_style=args.prompt_style,
        rapidin_json=not args.no_rapidin_json,
        hotwords=[w for w in args.hotwords.split(",") if w.strip()] if args.hotwords else None,
    )
    common = dict(
        cache_dir=args.cache_dir, overwrite=args.overwrite, progress=not args.no_progress, accelerator=accelerator
    )
    if pairwise:
        res = compute_pairwise(
            loaded.model, loaded.tokenizer, sets["train"], sets["query"], args.out, **common, **settings
        )
    else:
        res = compute_influence(
            loaded.model, loaded.tokenizer, sets["forget"], sets["retain"], args.out, **common, **settings
        )
    finish(accelerator)
    if accelerator is not None and not accelerator.is_main_process:
        return 0
    shapes = ", ".join(f"{k} {v.shape[0]}x{v.shape[1]}" for k, v in res.scores.items())
    total = sum(v.get("seconds", 0.0) for v in res.timings.values())
    print(
        f"influence: {shapes} ({res.manifest['config']['projector']}, K={res.manifest['dim']}) "
        f"in {total:.1f}s -> {res.out_dir}"
    )
    return 0
