"""Resumable weight refreshes for dynamic methods (``loreun_dynamic``, ``rapidun_dynamic``; docs/method.md
section 5).

Forget weights are recomputed from the training model at steps 0, K, 2K, ... and each result is appended to a JSON
history {step: weights} in the run directory, so a run resumed at step s restores the weights of step
floor(s / K) K instead of recomputing them from a different model, and ends equal to an uninterrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rapidun.artifacts import atomic_write_json
from rapidun.errors import RapidunError
from rapidun.unlearning.objective import RefreshFn


def history_refresh(
    path: Path, every: int, compute: Callable[[int], np.ndarray], is_main: bool, method: str
) -> RefreshFn:
    """A :data:`RefreshFn` that calls ``compute(step)`` at every multiple of ``every`` not yet in the history at
    ``path`` and returns the weights in force at each step (None between refreshes)."""
    history: dict[str, list[float]] = json.loads(path.read_text()) if path.is_file() else {}
    started = [False]

    def refresh(step: int) -> np.ndarray | None:
        at = step - step % every
        if started[0] and step != at:
            return None  # between refreshes: keep the current weights
        started[0] = True  # the first step of this process (0, or a resumed step) always loads its weights
        if step % every == 0 and str(step) not in history:
            history[str(step)] = np.asarray(compute(step), dtype=np.float64).tolist()
            if is_main:
                atomic_write_json(path, history)
        if str(at) not in history:
            raise RapidunError(
                f"cannot resume {method}: '{path}' lacks the weights of step {at}; rerun with --overwrite"
            )
        return np.asarray(history[str(at)], dtype=np.float64)

    return refresh
