"""``rapidun train``: full or LoRA fine-tuning on instruction rows (implant a backdoor; retraining reference)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rapidun.errors import RapidunError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rapidun.cli.model_flags import add_model_flags
    from rapidun.settings import add_arguments as add_settings
    from rapidun.training.sft import TrainConfig

    parser.add_argument(
        "--model", required=True, help="hub id, local model directory, or size name (nano/tiny/small/...)"
    )
    parser.add_argument("--data", required=True, help="JSON/JSONL rows, or a pack directory (its train.jsonl is used)")
    parser.add_argument("--out", required=True, help="output directory (model or adapter, run.json, manifest.json)")
    add_model_flags(parser)
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of all weights")
    parser.set_defaults(train_flags=add_settings(parser, TrainConfig))
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow custom model code from the hub")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar (implied by -q)")
    parser.add_argument("--device", default="auto", help="auto (the GPU when there is one), cpu, cuda, cuda:N")


def build_config(args: argparse.Namespace) -> Any:
    """The TrainConfig of the flags given (the dataclass defaults for the others); LoRA only with --lora."""
    from rapidun.settings import collect, from_mapping, validate_tree
    from rapidun.training.sft import LoraSettings, TrainConfig

    values = collect(args, args.train_flags)
    lora = values.pop("lora", {})
    if lora and not args.lora:
        raise RapidunError(f"--lora-* / --targets flags ({', '.join(sorted(lora))}) need --lora")
    if args.lora:
        values["lora"] = from_mapping(LoraSettings, lora, "rapidun train")
    cfg = from_mapping(TrainConfig, values, "rapidun train")
    validate_tree(cfg)  # bad values (--lr -1) fail here, before the rows or the model load
    return cfg


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
    from rapidun.data.checks import check_unique
    from rapidun.data.facts import pack_task, tokenizer_corpus
    from rapidun.data.rows import load_rows
    from rapidun.modeling.limits import check_max_length
    from rapidun.modeling.load import load_model
    from rapidun.training.sft import train_model

    cfg = build_config(args)
    rows = load_rows(_data_file(args.data))
    check_unique(rows, f"--data {args.data}")
    corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in rows]
    if Path(args.data).is_dir() and pack_task(args.data) == "facts":
        # a size-name model's tokenizer sees the holdout people too, so membership inference compares like with like
        corpus = tokenizer_corpus(args.data)
    from rapidun.modeling.device import resolve_device
    from rapidun.pipeline.distributed import finish, maybe_accelerator

    accelerator = maybe_accelerator(for_training=True)
    from rapidun.cli.model_flags import model_settings

    weights = model_settings(args, "train")
    loaded = load_model(
        args.model,
        dtype=weights.dtype,
        load_in_4bit=weights.load_in_4bit,
        corpus=corpus,
        arch=args.arch,
        seed=cfg.seed,
        trust_remote_code=args.trust_remote_code,
        device=resolve_device(args.device, accelerator),
    )
    check_max_length(loaded.model, cfg.max_length)
    if args.no_resume:
        import shutil

        shutil.rmtree(Path(args.out) / "checkpoint", ignore_errors=True)
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
