"""The shared training loop: resume equivalence, accumulation equivalence, schedule, divergence."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from rapidun.data.tokenize import collate, encode_rows
from rapidun.modeling.loss import per_sample_loss
from rapidun.training.checkpoint import find_checkpoint
from rapidun.training.loop import LoopConfig, TrainingDiverged, train_loop
from rapidun.training.optim import OptimConfig, lr_factor
from rapidun.training.sft import epoch_schedule


def _setup(nano_model, toy_rows):
    model = copy.deepcopy(nano_model.model)
    enc = encode_rows(toy_rows, nano_model.tokenizer, 64)
    pad = nano_model.tokenizer.pad_token_id

    def loss_fn(ids: Sequence[int], step: int, forward: torch.nn.Module) -> torch.Tensor:
        return per_sample_loss(forward, collate([enc.examples[i] for i in ids], pad)).sum()

    return model, loss_fn


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_micro_batches_equal_whole_batch(nano_model, toy_rows):
    """Gradient accumulation 1x4 equals 4x1: the same step on the same parameters."""
    schedule = epoch_schedule(len(toy_rows), 4, 3, seed=1)
    optim = OptimConfig(lr=1e-2, schedule="constant")
    a, fa = _setup(nano_model, toy_rows)
    b, fb = _setup(nano_model, toy_rows)
    ra = train_loop(a, fa, schedule, optim, LoopConfig(micro_batch_size=0, progress=False))
    rb = train_loop(b, fb, schedule, optim, LoopConfig(micro_batch_size=1, progress=False))
    assert ra.losses == pytest.approx(rb.losses, rel=1e-5)
    pa, pb = _params(a), _params(b)
    for n in pa:
        # Adam divides by sqrt(v): float-summation-order noise in tiny gradients shows up at ~1e-6.
        torch.testing.assert_close(pa[n], pb[n], rtol=1e-3, atol=2e-5)
    assert any(not torch.equal(pa[n], p) for n, p in _params(nano_model.model).items())


def test_resume_equals_uninterrupted(nano_model, toy_rows, tmp_path: Path):
    schedule = epoch_schedule(len(toy_rows), 2, 8, seed=3)
    optim = OptimConfig(lr=5e-3)
    full, f_full = _setup(nano_model, toy_rows)
    r_full = train_loop(full, f_full, schedule, optim, LoopConfig(progress=False))

    # Run 1 stops after 3 steps (as a kill after the checkpoint at step 3 would), run 2 resumes in a fresh model.
    first, f_first = _setup(nano_model, toy_rows)
    train_loop(
        first,
        f_first,
        schedule,
        optim,
        LoopConfig(checkpoint_every=3, progress=False),
        run_dir=tmp_path,
        on_step=lambda step, loss, m: step == 3,
    )
    assert find_checkpoint(tmp_path) is not None
    second, f_second = _setup(nano_model, toy_rows)
    r_second = train_loop(second, f_second, schedule, optim, LoopConfig(progress=False), run_dir=tmp_path)
    assert r_second.resumed_from == 3
    assert r_second.losses == pytest.approx(r_full.losses, rel=1e-6)
    p_full, p_second = _params(full), _params(second)
    for n in p_full:
        torch.testing.assert_close(p_full[n], p_second[n], rtol=0, atol=0)


def test_divergence_stops_with_message(nano_model, toy_rows):
    model, _ = _setup(nano_model, toy_rows)

    def bad(ids: Sequence[int], step: int, forward: torch.nn.Module) -> torch.Tensor:
        p = next(model.parameters())
        return p.sum() * 0 + (float("nan") if step == 2 else 1.0)

    before = None

    def hook(step: int, loss: float, m: torch.nn.Module) -> None:
        nonlocal before
        before = _params(m)

    with pytest.raises(TrainingDiverged, match="diverged at step 3/5"):
        train_loop(model, bad, [[0]] * 5, OptimConfig(lr=1e-2), LoopConfig(progress=False), on_step=hook)
    assert before is not None
    after = _params(model)
    assert all(torch.equal(before[n], after[n]) for n in after)  # the offending update was not applied


def test_cosine_schedule_shape():
    assert lr_factor(0, 10, 0, "cosine") == pytest.approx(1.0)
    assert lr_factor(5, 10, 0, "cosine") == pytest.approx(0.5)
    assert lr_factor(10, 10, 0, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(0, 10, 2, "cosine") == pytest.approx(0.5)  # linear warm-up
    assert lr_factor(3, 10, 0, "constant") == 1.0
    assert math.isclose(lr_factor(5, 10, 0, "linear"), 0.5)


def test_epoch_schedule_is_seeded_and_covers_each_epoch():
    s1, s2 = epoch_schedule(10, 5, 4, seed=7), epoch_schedule(10, 5, 4, seed=7)
    assert s1 == s2 and len(s1) == 4 and all(len(b) == 5 for b in s1)
    assert sorted(s1[0] + s1[1]) == list(range(10))
    assert epoch_schedule(10, 5, 4, seed=8) != s1
