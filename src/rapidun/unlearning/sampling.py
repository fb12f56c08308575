"""The sampling schedule of RapidUn training (docs/method.md section 4), drawn once from the seed.

Sample ids index the combined list ``[forget_0 .. forget_{nF-1}, retain_0 .. retain_{nR-1}]``. Each draw is a forget
row with probability 1 / (1 + retain_ratio) (3:1 retain:forget by default), otherwise a retain row, uniformly and
with replacement; ``epochs x (nF + nR)`` draws in all, grouped into optimiser steps of ``batch_size`` ids
(40 forget / 120 retain rows, 2 epochs, batch 1 -> 320 steps).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence


def mixture_schedule(
    n_forget: int,
    n_retain: int,
    *,
    epochs: float = 2.0,
    batch_size: int = 1,
    retain_ratio: float = 3.0,
    seed: int = 42,
    forget_only: bool = False,
    draws: int | None = None,
    forget_p: Sequence[float] | None = None,
    retain_p: Sequence[float] | None = None,
) -> list[list[int]]:
    """Global sample ids per optimiser step, shape (steps, batch_size). ``forget_only`` draws every id from the
    forget rows (gradient ascent), keeping the same number of steps as the mixed schedule. ``draws`` overrides the
    number of draws (default ``epochs x (n_forget + n_retain)``). ``forget_p`` (nF,) / ``retain_p`` (nR,): draw
    probabilities within each group (weighted sampling, docs/method.md section 5); None draws uniformly."""
    assert n_forget > 0 and batch_size > 0
    if draws is None:
        draws = max(1, math.ceil(epochs * (n_forget + n_retain) - 1e-9))
    steps = math.ceil(draws / batch_size)
    p_forget = 1.0 if forget_only or n_retain == 0 else 1.0 / (1.0 + retain_ratio)
    rng = random.Random(seed)
    schedule: list[list[int]] = []
    for _ in range(steps):
        batch = []
        for _ in range(batch_size):
            if rng.random() < p_forget:
                batch.append(_draw(rng, n_forget, forget_p))
            else:
                batch.append(n_forget + _draw(rng, n_retain, retain_p))
        schedule.append(batch)
    return schedule


def _draw(rng: random.Random, n: int, p: Sequence[float] | None) -> int:
    """One index in [0, n): uniform (``randrange``, the unweighted stream) or by inverse CDF of ``p``."""
    if p is None:
        return rng.randrange(n)
    cumulative = list(itertools.accumulate(p))
    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), n - 1)


def forget_draw_count(schedule: list[list[int]], n_forget: int) -> int:
    """How many forget-row draws a schedule holds (ids below ``n_forget``)."""
    return sum(i < n_forget for batch in schedule for i in batch)
