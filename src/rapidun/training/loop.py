"""The one optimisation loop behind ``rapidun train`` and every ``rapidun unlearn`` method.

Methods differ only in their loss: the loop takes ``loss_fn(ids, step, model) -> summed loss`` over the given
sample ids (``model``: the module to run forward through) and a precomputed *schedule* (the global sample ids of
every optimiser step, drawn from the seed up front). Because the schedule is fixed before training, the batch
composition, the number of steps and the learning-rate schedule do not depend on the number of processes, and a
resumed run replays exactly the steps an uninterrupted run would.

Per step t with global batch B_t: loss_t = (1/|B_t|) sum_{i in B_t} loss_fn({i}); with P processes each computes
the sum over its shard ``B_t[rank::P]`` (in micro-batches), gradients are summed across processes (the model and
optimiser go through ``accelerator.prepare``: DDP, see :mod:`rapidun.training.data_parallel`) and divided by |B_t|,
so 1 x 4 accumulation equals 4 x 1 and 2 processes equal 1.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from rapidun.errors import RapidunError
from rapidun.training.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from rapidun.training.data_parallel import Replicas, backward_shard, prepare_replicas, release_replicas
from rapidun.training.optim import OptimConfig, make_optimizer

log = logging.getLogger(__name__)

LossFn = Callable[[Sequence[int], int, Any], torch.Tensor]
"""(sample ids of one micro-batch, step, module to run forward through) -> scalar tensor: the SUM of the per-sample
(weighted) losses. The module is the trained model itself in one process, its DDP wrapper in several (a forward
that bypasses the wrapper would leave the gradients unsynchronised)."""

StepHook = Callable[[int, float, Any], bool | None]
"""(step just finished, 1-based; its loss; model) -> True to stop training early."""


class TrainingDiverged(RapidunError):
    """The loss became non-finite or left its bound; parameters are those before the offending update."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class LoopConfig:
    micro_batch_size: int = 0  # samples per forward/backward within one process; 0 = the whole local shard
    checkpoint_every: int = 0  # optimiser steps between checkpoints (0 = never, except when stopped by a hook)
    resume: bool = True
    max_abs_loss: float | None = None  # divergence bound on the step loss
    desc: str = "training"
    progress: bool = True


@dataclass
class LoopResult:
    steps: int
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)  # total gradient norm of each step, before clipping
    seconds: float = 0.0
    resumed_from: int = 0
    stopped_early: bool = False


def _zero_like_grads(params: Sequence[torch.nn.Parameter]) -> None:
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)


def train_loop(
    model: torch.nn.Module,
    loss_fn: LossFn,
    schedule: Sequence[Sequence[int]],
    optim: OptimConfig,
    cfg: LoopConfig,
    run_dir: Path | None = None,
    accelerator: Any = None,
    on_step: StepHook | None = None,
) -> LoopResult:
    """Run ``len(schedule)`` optimiser steps over the model's trainable parameters.

    ``accelerator``: an ``accelerate.Accelerator`` for multi-process runs (rows sharded, model and optimiser
    prepared for DDP); ``run_dir``: where ``checkpoint/`` lives; with ``cfg.resume`` an existing checkpoint is
    continued (every process loads it, before the model is wrapped).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise RapidunError("no trainable parameters: the model is fully frozen")
    total = len(schedule)
    optimizer, scheduler = make_optimizer(params, optim, total)
    is_main = accelerator is None or bool(accelerator.is_main_process)
    result = LoopResult(steps=total)
    start_step = _resume(model, optimizer, scheduler, cfg, run_dir, result, total)
    multi = accelerator is not None and accelerator.num_processes > 1
    replicas = prepare_replicas(accelerator, model, optimizer) if multi else None
    step_optimizer = replicas.optimizer if replicas is not None else optimizer
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=start_step, desc=cfg.desc, disable=not (cfg.progress and is_main), leave=False)
    for step in range(start_step, total):
        ids = list(schedule[step])
        step_optimizer.zero_grad(set_to_none=False)
        _zero_like_grads(params)
        step_loss = _accumulate_gradients(loss_fn, model, ids, step, params, cfg, replicas)
        _check_divergence(step_loss, step, total, cfg, bar)
        # The pre-clip norm says how often clipping rescaled a step (with batch 1 it also flattens per-sample
        # weights above the clip); inf measures the norm without clipping.
        clip = optim.grad_clip if optim.grad_clip is not None else math.inf
        clipper = accelerator.clip_grad_norm_ if replicas is not None else torch.nn.utils.clip_grad_norm_
        result.grad_norms.append(float(clipper(params, clip)))
        step_optimizer.step()
        scheduler.step()
        result.losses.append(step_loss)
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
        stop = bool(on_step(step + 1, step_loss, model)) if on_step is not None else False
        if run_dir is not None and is_main and _should_checkpoint(step + 1, total, stop, cfg):
            extra_state = {"losses": result.losses, "grad_norms": result.grad_norms}
            save_checkpoint(run_dir, model, optimizer, scheduler, step + 1, extra_state)
        if accelerator is not None:
            accelerator.wait_for_everyone()
        if stop:
            result.stopped_early = True
            result.steps = step + 1
            break
    bar.close()
    if replicas is not None:
        release_replicas(replicas)
    result.seconds = time.perf_counter() - t0
    model.eval()
    return result


def _resume(
    model: torch.nn.Module,
    optimizer: Any,
    scheduler: Any,
    cfg: LoopConfig,
    run_dir: Path | None,
    result: LoopResult,
    total: int,
) -> int:
    """Load the latest checkpoint under ``run_dir`` (when resuming) into model, optimiser, scheduler and
    ``result``; return the number of steps already done (0 when starting fresh)."""
    if run_dir is None or not cfg.resume:
        return 0
    ckpt = find_checkpoint(run_dir)
    if ckpt is None:
        return 0
    start_step, extra = load_checkpoint(ckpt, model, optimizer, scheduler)
    result.losses = list(extra.get("losses", []))
    result.grad_norms = list(extra.get("grad_norms", []))
    result.resumed_from = start_step
    log.info("%s: resuming from step %d/%d (%s)", cfg.desc, start_step, total, ckpt)
    return start_step


def _accumulate_gradients(
    loss_fn: LossFn,
    model: torch.nn.Module,
    ids: Sequence[int],
    step: int,
    params: Sequence[torch.nn.Parameter],
    cfg: LoopConfig,
    replicas: Replicas | None,
) -> float:
    """Backpropagate ``loss_fn`` over this process's shard of the global batch ``ids`` in micro-batches, each
    scaled by 1/|B_t| (with several processes: DDP sums them across processes). Returns the step loss
    (1/|B_t|) sum_i loss_i over the whole global batch."""
    if replicas is None:
        chunk = cfg.micro_batch_size or max(1, len(ids))
        step_loss = 0.0
        for s in range(0, len(ids), chunk):
            loss = loss_fn(ids[s : s + chunk], step, model)
            (loss / len(ids)).backward()
            step_loss += float(loss.detach())
        return step_loss / len(ids)
    local = ids[replicas.rank :: replicas.world]
    chunk = cfg.micro_batch_size or max(1, len(local))
    local_sum = backward_shard(loss_fn, len(ids), local, step, replicas, chunk)
    t = torch.tensor([local_sum], dtype=torch.float64, device=params[0].device)  # NCCL needs GPU tensors
    torch.distributed.all_reduce(t)
    return float(t.item()) / len(ids)


def _check_divergence(step_loss: float, step: int, total: int, cfg: LoopConfig, bar: Any) -> None:
    """Raise :class:`TrainingDiverged` before the update when the step loss is non-finite or past the bound."""
    if math.isfinite(step_loss) and (cfg.max_abs_loss is None or abs(step_loss) <= cfg.max_abs_loss):
        return
    bar.close()
    what = "non-finite" if not math.isfinite(step_loss) else f"past the bound {cfg.max_abs_loss:g}"
    raise TrainingDiverged(
        f"{cfg.desc} diverged at step {step + 1}/{total}: loss {step_loss:.4g} is {what}; the last good "
        "parameters were kept; lower --lr or use --bounded-ascent",
        step,
    )


def _should_checkpoint(done_steps: int, total: int, stop: bool, cfg: LoopConfig) -> bool:
    """A checkpoint after step ``done_steps`` unless training is finished: when a hook stops the run early, or
    every ``cfg.checkpoint_every`` steps."""
    if done_steps == total:
        return False
    return stop or bool(cfg.checkpoint_every and done_steps % cfg.checkpoint_every == 0)
