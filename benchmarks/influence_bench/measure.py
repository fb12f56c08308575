"""Timing and memory measurement for the influence benchmark.

Samples/s is measured per CPU-second of this process (user + system), which is robust to other processes sharing
the cores; wall-clock rates are kept beside it. Peak memory is the resident set above the starting point, sampled
every 5 ms on a side thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rapidun.costs import current_rss_mb

with contextlib.suppress(OSError, AttributeError):
    # Blocks >= 1 MiB always come from mmap and go back on free, so RSS follows live tensors.
    ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD

ONCE = {"naive-loop", "rapidin", "kronfluence identity", "kronfluence ekfac"}  # slow: one timed run each


def status_mb(field: str) -> float:
    """One memory field of /proc/self/status (VmRSS, RssAnon, ...) in MiB; 0.0 where unavailable."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def peaks_during(fn: Callable[[], object], read: dict[str, Callable[[], float]]) -> tuple[float, dict[str, float]]:
    """Seconds taken by ``fn()`` and, per named memory reading in ``read`` (MiB), its peak above the value at the
    start, sampled every 5 ms on a side thread."""
    start = {name: r() for name, r in read.items()}
    peak = dict(start)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            for name, r in read.items():
                peak[name] = max(peak[name], r())

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    fn()
    sec = time.perf_counter() - t
    stop.set()
    th.join()
    return sec, {name: max(peak[name], r()) - start[name] for name, r in read.items()}


def peak_rss_during(fn: Callable[[], None]) -> tuple[float, float]:
    """Seconds taken by ``fn()`` and its peak resident memory above the starting point (MiB, sampled every 5 ms)."""
    sec, peaks = peaks_during(fn, {"rss": current_rss_mb})
    return sec, peaks["rss"]


def release_memory() -> None:
    """Return freed heap memory to the OS so that RSS deltas measure what a variant really holds."""
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(variants: dict, samples: dict, reps: int) -> dict:
    """Interleaved repetitions (each variant once per round, so load changes hit all alike): best CPU seconds of
    the process (user + system; robust to other processes sharing the cores) and best wall seconds; then one
    extra pass per variant with a 5 ms RSS sampler for its peak memory above the starting point."""
    cpu = {k: math.inf for k in variants}
    wall = {k: math.inf for k in variants}
    peaks: dict = {}
    for r in range(reps):
        for k, fn in variants.items():
            if r > 0 and k in ONCE:
                continue
            release_memory()
            c, w = time.process_time(), time.perf_counter()
            if k in ONCE:  # slow variants: one run, timed with the sampler on (its cost is negligible there)
                _, peaks[k] = peak_rss_during(fn)
            else:
                fn()
            cpu[k] = min(cpu[k], time.process_time() - c)
            wall[k] = min(wall[k], time.perf_counter() - w)
    out = {}
    for k, fn in variants.items():
        if k not in peaks:
            release_memory()
            _, peaks[k] = peak_rss_during(fn)
        out[k] = {
            "samples_per_s": samples[k] / cpu[k],
            "cpu_seconds": cpu[k],
            "wall_samples_per_s": samples[k] / wall[k],
            "peak_mb": peaks[k],
            "samples": samples[k],
        }
    return out
