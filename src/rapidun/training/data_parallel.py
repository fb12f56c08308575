"""Data-parallel steps through ``accelerate`` (docs/scaling.md): the model and optimiser go through
``accelerator.prepare`` (DDP: gradients averaged by its bucketed all-reduce, overlapped with the backward pass).

The loop keeps its fixed global schedule (docs/method.md section 4): at step t with global batch B_t, process r of
P backpropagates the summed loss of its shard ``B_t[r::P]`` scaled by P / |B_t|. DDP averages (divides by P) when
it all-reduces, so every process applies grad (1/|B_t|) sum_{i in B_t} loss_i, the step one process takes.

DDP needs every process to run the same collectives in the same order. Shards differ in size (|B_t| = 1 on two
processes leaves one empty), so each process accumulates all its micro-batches but the last under ``no_sync`` and
runs exactly one synchronised forward and backward per step: its last micro-batch, or a one-token forward with
weight zero when it has none (or when its loss never ran the wrapped model, e.g. a GA step given retain rows only).
Buffers are not broadcast at each forward (``broadcast_buffers=False``): that broadcast is a collective per
forward, which would deadlock processes that run different numbers of micro-batches, and the buffers (rotary
tables, masks) are never trained, so every process already holds rank 0's.

The learning-rate scheduler is not prepared: ``accelerate``'s wrapper steps it once per process per step (it
assumes a per-process data loader), while ours already counts global steps. Backward passes go through
``accelerator.backward`` (the loss scaling of ``accelerate launch --mixed_precision fp16``), and accelerate's own
gradient accumulation is refused (it would divide the loss again; ``--micro-batch-size`` does that job here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rapidun.errors import RapidunError

SyncedLossFn = Callable[[Sequence[int], int, Any], torch.Tensor]
"""(sample ids, step, module to run forward through) -> summed loss; as :data:`rapidun.training.loop.LossFn`."""


def ddp_kwargs() -> Any:
    """The ``DistributedDataParallelKwargs`` every rapidun Accelerator is built with (see the module docstring)."""
    from accelerate.utils import DistributedDataParallelKwargs

    return DistributedDataParallelKwargs(broadcast_buffers=False)


@dataclass
class Replicas:
    """The DDP-wrapped model and accelerate's optimiser of one multi-process run, and how many forwards the
    wrapped model ran (a pre-hook counts them, to know whether a loss really went through it)."""

    accelerator: Any
    wrapped: torch.nn.Module
    optimizer: Any
    forwards: list[int]

    @property
    def world(self) -> int:
        return int(self.accelerator.num_processes)

    @property
    def rank(self) -> int:
        return int(self.accelerator.process_index)


def check_data_parallel(accelerator: Any) -> None:
    """Refuse, with one line, an accelerate set-up the loop cannot honour: FSDP / DeepSpeed (the optimiser is built
    on the whole parameters and the checkpoint read from the unwrapped model) and accelerate's own gradient
    accumulation. Called by ``train`` / ``unlearn`` before the model loads, and again by :func:`prepare_replicas`."""
    kind = str(getattr(accelerator.distributed_type, "value", accelerator.distributed_type))
    if kind in ("FSDP", "DEEPSPEED", "MEGATRON_LM", "XLA"):  # the MULTI_<device> types are DDP
        raise RapidunError(
            f"accelerate distributed_type {kind} is not supported by rapidun train/unlearn (DDP only); launch with "
            "torchrun or an accelerate config with distributed_type MULTI_GPU (docs/scaling.md)"
        )
    if getattr(accelerator, "gradient_accumulation_steps", 1) != 1:  # accelerator.backward would divide by it
        raise RapidunError(
            f"accelerate gradient_accumulation_steps {accelerator.gradient_accumulation_steps} is not used by rapidun "
            "(--batch-size is the global batch); set it to 1 and split batches with --micro-batch-size"
        )


def prepare_replicas(accelerator: Any, model: torch.nn.Module, optimizer: Any) -> Replicas:
    """``accelerator.prepare(model, optimizer)`` leaving both where ``--device`` put them (no device placement);
    DDP only (:func:`check_data_parallel`)."""
    check_data_parallel(accelerator)
    wrapped, prepared = accelerator.prepare(model, optimizer, device_placement=[False, False])
    forwards = [0]

    def count(_module: Any, _args: Any) -> None:
        forwards[0] += 1

    wrapped.register_forward_pre_hook(count)
    return Replicas(accelerator, wrapped, prepared, forwards)


def release_replicas(replicas: Replicas) -> None:
    """Drop the wrapper (and a mixed-precision forward wrapper ``accelerate launch`` added), keep the model."""
    replicas.accelerator.unwrap_model(replicas.wrapped, keep_fp32_wrapper=False)
    replicas.accelerator.free_memory()


def backward_shard(
    loss_fn: SyncedLossFn, batch_size: int, local: Sequence[int], step: int, replicas: Replicas, chunk: int
) -> float:
    """Backpropagate this process's shard ``local`` of a global batch of ``batch_size`` rows in micro-batches of
    ``chunk``, gradients synchronised once, at the last backward. Returns the local summed loss (unscaled)."""
    parts = [local[s : s + chunk] for s in range(0, len(local), chunk)]
    scale = replicas.world / batch_size
    local_sum = 0.0
    for part in parts[:-1]:
        with replicas.accelerator.no_sync(replicas.wrapped):
            loss = loss_fn(part, step, replicas.wrapped)
            replicas.accelerator.backward(loss * scale)
        local_sum += float(loss.detach())
    before = replicas.forwards[0]
    synced = loss_fn(parts[-1], step, replicas.wrapped) if parts else None
    if synced is not None:
        local_sum += float(synced.detach())
    total = synced * scale if synced is not None else None
    if replicas.forwards[0] == before:  # no forward through DDP yet: its all-reduce would never start here
        zero = zero_contribution(replicas.wrapped)
        total = zero if total is None else total + zero
    assert total is not None
    replicas.accelerator.backward(total)  # with ``accelerate launch --mixed_precision fp16``: the scaled loss
    return local_sum


def zero_contribution(wrapped: torch.nn.Module) -> torch.Tensor:
    """A one-token forward through the wrapped causal LM times zero: it arms DDP's all-reduce for this backward and
    adds an exact zero to every gradient."""
    device = next(wrapped.parameters()).device
    out = wrapped(input_ids=torch.zeros((1, 1), dtype=torch.long, device=device))
    return out.logits.float().sum() * 0.0
