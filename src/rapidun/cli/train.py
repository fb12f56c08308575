"""``rapidun train``: full or LoRA fine-tuning on instruction rows (implant a backdoor; retraining reference)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rapidun.errors import RapidunError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, help="hub id, local model directory, or size name (nano/tiny/small/...)"
    )
    parser.add_argument("--data", required=True, help="JSON/JSONL rows, or a pack directory (its train.jsonl is used)")
    parser.add_argument("--out", required=True, help="output directory (model or adapter, run.json, manifest.json)")
    parser.add_argument("--arch", default="llama", choices=["llama", "mistral"], help="architecture for size names")
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--max-steps", type=int, default=0, help="> 0 overrides --epochs")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--micro-batch-size", type=int, default=0, help="split each batch for memory (0 = no split)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup-ratio", type=float, default=0.05)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--prompt-style", default="alpaca", choices=["alpaca", "chat"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (implied by -q)")
    parser.add_argument("--device", default="auto", help="auto (the GPU when there is one), cpu, cuda, cuda:N")


def _data_file(data: str) -> Path:
    p = Path(data)
    if p.is_dir():
        if not (p / "train.jsonl").is_file():
            raise RapidunError(
                f"--data directory '{p}' has no train.jsonl; pass a rows file or a 'rapidun poison' pack"
            )
        return p / "train.jsonl"
    return p


def run(args: argparse.Namespace) -> int:
    from rapidun.data.rows import load_rows
    from rapidun.modeling.load import load_model
    from rapidun.training.sft import LoraSettings, TrainConfig, train_model

    if args.batch_size < 1 or args.epochs <= 0 and args.max_steps <= 0:
        raise RapidunError("--batch-size must be >= 1 and --epochs > 0 (or --max-steps > 0)")
    from rapidun.data.checks import check_unique
    from rapidun.modeling.limits import check_max_length

    rows = load_rows(_data_file(args.data))
    check_unique(rows, f"--data {args.data}")
    corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in rows]
    from rapidun.modeling.device import resolve_device
    from rapidun.pipeline.distributed import finish, maybe_accelerator

    accelerator = maybe_accelerator()
    loaded = load_model(
        args.model,
        corpus=corpus,
        arch=args.arch,
        seed=args.seed,
        trust_remote_code=args.trust_remote_code,
        device=resolve_device(args.device, accelerator),
    )
    check_max_length(loaded.model, args.max_length)
    if args.no_resume:
        import shutil

        shutil.rmtree(Path(args.out) / "checkpoint", ignore_errors=True)
    cfg = TrainConfig(
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        micro_batch_size=args.micro_batch_size,
        lr=args.lr,
        warmup_ratio=args.warmup_ratio,
        max_length=args.max_length,
        prompt_style=args.prompt_style,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        lora=LoraSettings(r=args.lora_r, alpha=args.lora_alpha) if args.lora else None,
    )
    res = train_model(
        loaded.model,
        loaded.tokenizer,
        rows,
        args.out,
        cfg,
        overwrite=args.overwrite,
        accelerator=accelerator,
        source=args.model,
        progress=not args.no_progress,
    )
    finish(accelerator)  # every rank waits for rank 0's outputs, then leaves the process group
    if accelerator is not None and not accelerator.is_main_process:
        return 0
    print(
        f"trained {args.model} for {res.steps} steps in {res.seconds:.1f}s ({res.tokens_per_second:.0f} tokens/s), "
        f"final loss {res.final_loss:.4f} -> {res.out_dir}"
    )
    return 0
