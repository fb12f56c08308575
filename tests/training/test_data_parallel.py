"""One process's share of a DDP step (``rapidun.training.data_parallel``), checked in this process: the scaling by
P / |B_t|, the zero contribution of an empty shard, and the refusal of FSDP / DeepSpeed. A stand-in accelerator
plays rank r of P (DDP's all-reduce itself is exercised by tests/multiproc)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from rapidun.data.tokenize import collate, encode_rows
from rapidun.errors import RapidunError
from rapidun.modeling.loss import per_sample_loss
from rapidun.training.data_parallel import Replicas, backward_shard, prepare_replicas, zero_contribution


@dataclass
class StandIn:
    """What ``backward_shard`` reads from an Accelerator: rank, size, ``no_sync`` and ``backward``."""

    process_index: int
    num_processes: int
    distributed_type: str = "MULTI_CPU"

    gradient_accumulation_steps: int = 1

    def no_sync(self, model: Any) -> Any:
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()


def _replicas(model: torch.nn.Module, rank: int, world: int) -> Replicas:
    forwards = [0]
    model.register_forward_pre_hook(lambda _m, _a: forwards.__setitem__(0, forwards[0] + 1))
    return Replicas(StandIn(rank, world), model, None, forwards)


def _grads(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


def _setup(nano_model: Any, toy_rows: Any) -> tuple[torch.nn.Module, Any]:
    model = copy.deepcopy(nano_model.model)
    enc = encode_rows(toy_rows, nano_model.tokenizer, 64)
    pad = nano_model.tokenizer.pad_token_id

    def loss_fn(ids: Sequence[int], step: int, forward: Any) -> torch.Tensor:
        return per_sample_loss(forward, collate([enc.examples[i] for i in ids], pad)).sum()

    return model, loss_fn


def test_rank_backpropagates_its_rows_times_world_over_batch(nano_model, toy_rows) -> None:
    """Rank 0 of 2, global batch [1, 4, 6] in micro-batches of 1: its rows are 1 and 6, scaled by 2/3 (DDP then
    averages over the 2 processes, giving 1/3 of the batch sum)."""
    model, loss_fn = _setup(nano_model, toy_rows)
    local_sum = backward_shard(loss_fn, 3, [1, 6], 0, _replicas(model, 0, 2), chunk=1)
    got = _grads(model)
    model.zero_grad(set_to_none=True)
    expected_sum = loss_fn([1], 0, model) + loss_fn([6], 0, model)
    (expected_sum * (2 / 3)).backward()
    assert local_sum == pytest.approx(float(expected_sum.detach()), rel=1e-6)
    for g, e in zip(got, _grads(model)):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-7)
    assert any(float(g.abs().max()) > 0 for g in got)


def test_empty_shard_runs_one_forward_and_adds_exact_zeros(nano_model, toy_rows) -> None:
    model, loss_fn = _setup(nano_model, toy_rows)
    replicas = _replicas(model, 1, 2)
    assert backward_shard(loss_fn, 1, [], 0, replicas, chunk=1) == 0.0
    assert replicas.forwards[0] == 1  # the forward that arms DDP's all-reduce
    assert all(p.grad is not None and torch.count_nonzero(p.grad) == 0 for p in model.parameters())


def test_loss_without_a_forward_gets_the_zero_forward(nano_model) -> None:
    """A loss that never ran the model (GA given retain rows only) still joins the all-reduce."""
    model = copy.deepcopy(nano_model.model)
    replicas = _replicas(model, 0, 2)

    def no_forward(ids: Sequence[int], step: int, forward: Any) -> torch.Tensor:
        return sum((p.sum() * 0.0 for p in model.parameters()), torch.zeros(()))

    backward_shard(no_forward, 2, [0], 0, replicas, chunk=1)
    assert replicas.forwards[0] == 1
    loss = zero_contribution(model)
    assert float(loss) == 0.0


@pytest.mark.parametrize("kind", ["FSDP", "DEEPSPEED"])
def test_sharded_parameter_modes_are_refused(kind: str, nano_model) -> None:
    with pytest.raises(RapidunError, match=f"distributed_type {kind} is not supported"):
        prepare_replicas(StandIn(0, 2, kind), nano_model.model, None)


def test_accelerate_gradient_accumulation_is_refused(nano_model) -> None:
    with pytest.raises(RapidunError, match="gradient_accumulation_steps 4 .* --micro-batch-size"):
        prepare_replicas(StandIn(0, 2, gradient_accumulation_steps=4), nano_model.model, None)
