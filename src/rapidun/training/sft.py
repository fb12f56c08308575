"""Supervised fine-tuning (``rapidun train``): full or LoRA, on a JSONL mix of instruction rows.

Used to implant a backdoor (train on clean + poisoned rows) and as the retraining reference of RapidUn (the same
recipe on clean rows only). The loss is the batch mean of the per-sample token-mean response cross-entropy.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rapidun.artifacts import atomic_write_json, clear_manifest, ensure_dir, read_manifest, write_manifest
from rapidun.costs import CostLedger
from rapidun.data.rows import Row, rows_hash
from rapidun.data.tokenize import collate, encode_rows
from rapidun.errors import RapidunError
from rapidun.modeling.load import save_model
from rapidun.modeling.loss import per_sample_loss
from rapidun.modeling.targets import AUTO, LLAMA_TARGETS, log_targets, resolve_targets
from rapidun.settings import CHECKPOINT_EVERY, MAX_LENGTH, PROMPT_STYLES, SEED, setting
from rapidun.training.loop import LoopConfig, train_loop
from rapidun.training.optim import OptimConfig

log = logging.getLogger(__name__)

LORA_TARGETS = LLAMA_TARGETS  # what --targets auto resolves to on a Llama (kept for callers that name them)


@dataclass(frozen=True)
class LoraSettings:
    """A LoRA adapter's shape (docs/method.md section 4): rank, scale alpha / r, dropout and the wrapped layers."""

    r: int = setting(16, "LoRA rank")
    alpha: float = setting(16, "LoRA alpha (the update is scaled by alpha / r)")
    dropout: float = setting(0.05, "LoRA dropout")
    targets: tuple[str, ...] = setting(
        (AUTO,),
        "comma-separated LoRA target modules, or auto: every attention and MLP projection (Linear, Conv1D, fused "
        "qkv), not the embeddings or the LM head",
        flag="targets",
    )


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning recipe. Defaults suit the small from-scratch models of the demo (high lr, a few epochs)."""

    epochs: float = setting(3.0, "passes over the rows")
    max_steps: int = setting(0, "optimiser steps; > 0 overrides --epochs")
    batch_size: int = setting(16, "samples per optimiser step")
    micro_batch_size: int = setting(0, "split each batch for memory (0 = no split)")
    lr: float = setting(2e-3, "AdamW learning rate")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    warmup_ratio: float = setting(0.05, "fraction of the steps with a linear warm-up")
    grad_clip: float = setting(1.0, "gradient-norm clip")
    max_length: int = setting(MAX_LENGTH, "tokens per example (prompt + response)")
    prompt_style: str = setting("alpaca", "prompt template", choices=PROMPT_STYLES)
    lora: LoraSettings | None = setting(None, "train a LoRA adapter with these settings (None: all weights)")
    seed: int = setting(SEED, "seed of the data order and initialisation")
    checkpoint_every: int = setting(CHECKPOINT_EVERY, "optimiser steps between resumable checkpoints (0 = none)")
    gradient_checkpointing: bool = setting(False, "recompute activations in the backward pass (less memory)")

    def validate(self) -> None:
        """Raise :class:`RapidunError` naming the flag for a setting that cannot work (checked before any model
        loads)."""
        checks: list[tuple[bool, str]] = [
            (self.lr > 0 and math.isfinite(self.lr), f"--lr must be a finite number > 0, got {self.lr}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.micro_batch_size >= 0, f"--micro-batch-size must be >= 0, got {self.micro_batch_size}"),
            (self.max_steps >= 0, f"--max-steps must be >= 0, got {self.max_steps}"),
            (
                self.max_steps > 0 or (self.epochs > 0 and math.isfinite(self.epochs)),
                f"--epochs must be > 0 (or --max-steps > 0), got {self.epochs}",
            ),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (0 <= self.warmup_ratio < 1, f"--warmup-ratio must be in [0, 1), got {self.warmup_ratio}"),
            (self.grad_clip > 0, f"--grad-clip must be > 0, got {self.grad_clip}"),
            (self.max_length >= 8, f"--max-length must be >= 8 tokens, got {self.max_length}"),
            (self.checkpoint_every >= 0, f"--checkpoint-every must be >= 0, got {self.checkpoint_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise RapidunError(message)


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    final_loss: float
    seconds: float
    tokens_per_second: float
    run: dict[str, Any] = field(default_factory=dict)


def epoch_schedule(n: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Global sample ids per optimiser step: seeded reshuffle every epoch, batches of ``batch_size``."""
    rng = random.Random(seed)
    out: list[list[int]] = []
    order: list[int] = []
    while len(out) < steps:
        if len(order) < batch_size:
            fresh = list(range(n))
            rng.shuffle(fresh)
            order.extend(fresh)
        out.append(order[:batch_size])
        order = order[batch_size:]
    return out


def apply_lora(model: Any, lora: LoraSettings) -> Any:
    """``model`` wrapped with a fresh LoRA adapter on the resolved targets (``auto``: see
    :mod:`rapidun.modeling.targets`). The adapter's weights are float32 whatever the base dtype (PEFT's
    ``autocast_adapter_dtype``); its ``peft_config['default'].target_modules`` records the resolved names."""
    from peft import LoraConfig, get_peft_model

    targets = resolve_targets(model, lora.targets)
    log_targets(model, targets, "LoRA")
    cfg = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,  # type: ignore[arg-type]  # peft annotates int; it only divides alpha by r
        lora_dropout=lora.dropout,
        target_modules=list(targets),
        fan_in_fan_out=any(type(m).__name__ == "Conv1D" for m in model.modules()),  # GPT-2: W is (d_in, d_out)
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, cfg, autocast_adapter_dtype=True)


def lora_targets_of(model: Any) -> list[str]:
    """The module names a PEFT model's adapter wraps (sorted), for run.json / manifest.json."""
    config = getattr(model, "peft_config", {}).get("default")
    return sorted(config.target_modules) if config is not None else []


def prepare_model(model: Any, cfg: TrainConfig) -> Any:
    """The model to train: wrapped with LoRA when ``cfg.lora``; gradient checkpointing on request."""
    if cfg.lora is not None:
        model = apply_lora(model, cfg.lora)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        if cfg.lora is not None:
            model.enable_input_require_grads()  # frozen embeddings would otherwise give LoRA no gradient
    return model


def train_model(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    overwrite: bool = False,
    accelerator: Any = None,
    progress: bool = True,
    source: str = "",
) -> TrainResult:
    """Fine-tune ``model`` on ``rows`` and save it (or its LoRA adapter) with ``save_pretrained`` to ``out_dir``.

    Resumes from ``out_dir/checkpoint`` when present; a finished ``out_dir`` (with ``manifest.json``) is refused
    unless ``overwrite``. Writes ``run.json`` (resolved config, wall-clock, tokens/s, peak memory) and the manifest
    last."""
    out = _open_out_dir(out_dir, overwrite, accelerator)
    if not rows:
        raise RapidunError("no training rows; check --data")
    ledger = CostLedger()
    with ledger.stage("tokenize"):
        enc = encode_rows(rows, tokenizer, cfg.max_length, cfg.prompt_style, name="train")
    if not enc.examples:
        raise RapidunError("every training row was skipped (no response token fits --max-length)")
    examples = enc.examples
    n = len(examples)
    steps = cfg.max_steps or max(1, round(cfg.epochs * n / cfg.batch_size))
    schedule = epoch_schedule(n, cfg.batch_size, steps, cfg.seed)
    if cfg.lora is not None:  # run.json and the manifest record the names ``auto`` resolves to
        cfg = replace(cfg, lora=replace(cfg.lora, targets=resolve_targets(model, cfg.lora.targets)))
    torch.manual_seed(cfg.seed)
    model = prepare_model(model, cfg)
    pad = tokenizer.pad_token_id
    tokens = [0]

    def loss_fn(ids: Sequence[int], step: int, forward: Any) -> torch.Tensor:
        batch = collate([examples[i] for i in ids], pad)
        tokens[0] += int(batch["attention_mask"].sum())
        return per_sample_loss(forward, batch).sum()  # ``forward``: the model, or its DDP wrapper

    optim = OptimConfig(
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        grad_clip=cfg.grad_clip,
        warmup_steps=int(cfg.warmup_ratio * steps),
        schedule="cosine",
    )
    loop = LoopConfig(
        micro_batch_size=cfg.micro_batch_size, checkpoint_every=cfg.checkpoint_every, desc="train", progress=progress
    )
    with ledger.stage("training"):
        res = train_loop(model, loss_fn, schedule, optim, loop, run_dir=out, accelerator=accelerator)
    is_main = accelerator is None or accelerator.is_main_process
    with ledger.stage("save"):
        if is_main:
            save_model(model, tokenizer, out)
    train_s = ledger.seconds("training")
    run = {**_run_record(cfg, rows, enc, res, ledger, tokens[0], source), **_model_record(model)}
    if is_main:
        _write_finished(out, run)
    return TrainResult(out, res.steps, run["final_loss"], train_s, run["tokens_per_s"], run)


def _run_record(
    cfg: TrainConfig, rows: Sequence[Row], enc: Any, res: Any, ledger: CostLedger, tokens: int, source: str
) -> dict[str, Any]:
    """run.json's record of the data, steps, losses and costs."""
    train_s = ledger.seconds("training")
    return {
        "command": "train",
        "source_model": source,
        "config": asdict(cfg),
        "n_rows": len(rows),
        "n_examples": len(enc.examples),
        "skipped_rows": len(enc.skipped),
        "truncated_rows": enc.truncated,
        "data_hash": rows_hash(rows),
        "steps": res.steps,
        "resumed_from_step": res.resumed_from,
        "final_loss": res.losses[-1] if res.losses else float("nan"),
        "losses": res.losses,
        "wall_clock_s": train_s,
        "tokens_per_s": tokens / train_s if train_s > 0 else 0.0,
        "stages": ledger.to_dict(),
        "peak_rss_mb": max(s.peak_rss_mb for s in ledger.stages),
        "lora": cfg.lora is not None,
    }


def _model_record(model: Any) -> dict[str, Any]:
    """run.json's record of the trained layers (LoRA's resolved targets) and the weight type."""
    return {
        "lora_targets": lora_targets_of(model),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
    }


def _open_out_dir(out_dir: str | Path, overwrite: bool, accelerator: Any) -> Path:
    """``out_dir``, refused when it holds a finished run (unless ``overwrite``, which marks it unfinished)."""
    out = ensure_dir(out_dir)
    done = read_manifest(out)
    if done is not None and not overwrite:
        raise RapidunError(f"'{out}' already holds a finished training run; pass --overwrite or choose another --out")
    if done is not None and (accelerator is None or accelerator.is_main_process):
        clear_manifest(out)  # --overwrite: the dir is unfinished until the new manifest, even if killed mid-save
    return out


def _write_finished(out: Path, run: dict[str, Any]) -> None:
    """``run.json``, the checkpoint removed, then the manifest (last: it marks the run finished)."""
    atomic_write_json(out / "run.json", run)
    ckpt = out / "checkpoint"
    if ckpt.exists():
        import shutil

        shutil.rmtree(ckpt)
    write_manifest(
        out,
        {"kind": "train", "config": run["config"], "data_hash": run["data_hash"], "lora_targets": run["lora_targets"]},
    )
