"""Cost accounting: wall-clock and peak memory of each pipeline stage.

Peak memory is the peak resident set size of this process during the stage, sampled every 20 ms by a background
thread (CPU), plus the CUDA allocator's peak when a GPU is used. Stages nest; each records its own window.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc; 0.0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class StageCost:
    name: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    peak_cuda_mb: float = 0.0


@dataclass
class CostLedger:
    """Ordered record of stage costs, serialisable to ``timings.json``."""

    stages: list[StageCost] = field(default_factory=list)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {s.name: {k: v for k, v in asdict(s).items() if k != "name"} for s in self.stages}

    def seconds(self, name: str) -> float:
        return sum(s.seconds for s in self.stages if s.name == name)

    @contextmanager
    def stage(self, name: str) -> Iterator[StageCost]:
        """Time the enclosed block and sample its peak memory."""
        cost = StageCost(name)
        stop = threading.Event()
        peak = [current_rss_mb()]

        def sample() -> None:
            while not stop.wait(0.02):
                peak[0] = max(peak[0], current_rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cuda = _cuda_reset()
        start = time.perf_counter()
        try:
            yield cost
        finally:
            cost.seconds = time.perf_counter() - start
            stop.set()
            sampler.join()
            cost.peak_rss_mb = max(peak[0], current_rss_mb())
            if cuda:
                import torch

                cost.peak_cuda_mb = torch.cuda.max_memory_allocated() / 2**20
            self.stages.append(cost)


def _cuda_reset() -> bool:
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return False
    torch.cuda.reset_peak_memory_stats()
    return True
