"""The GPU run of the influence benchmark: the extraction variants on a CUDA device and fidelity.

Wall time after synchronising (best of ``--reps`` after a warm-up), peak CUDA memory above what was allocated
before the call. RapidIn/naive loops, kronfluence, scoring and AUC are CPU-only.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch

from rapidun.influence.hooks import describe, select_layers
from rapidun.influence.projector_registry import DEFAULT_PROJECTOR, make_projector
from rapidun.modeling.factory import SIZES, build_model, count_parameters

from .extraction import floor_variant, plain_variant, projector_variant
from .fidelity import projector_fidelity
from .workload import make_data, train_briefly

SEQ = 64  # tokens per sequence (16 prompt + 48 response)


def _time_on_device(fn: Callable[[], None], dev: torch.device, reps: int, n: int) -> dict:
    """Best synchronised wall time of ``fn`` after a warm-up, and its peak CUDA memory (MiB) above the start."""
    fn()  # warm-up (kernels, sketch indices moved to the device)
    best = math.inf
    for _ in range(reps):
        torch.cuda.synchronize(dev)
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize(dev)
        best = min(best, time.perf_counter() - t)
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    fn()
    peak = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    return {"samples_per_s": n / best, "wall_samples_per_s": n / best, "peak_mb": peak, "samples": n}


def run_gpu(args: argparse.Namespace) -> dict:
    """The extraction variants of the speed table on ``args.device`` with model size ``args.size``; returns the
    results (variants, ratios to the floor, peak memory ratio to plain, fidelity)."""
    dev = torch.device(args.device)
    torch.manual_seed(0)
    size = SIZES[args.size]
    B = args.batch
    n = B * 4
    model = build_model(size, size.vocab_size, seed=0).to(dev)
    data = {k: v.to(dev) for k, v in make_data(size.vocab_size, max(256, n), SEQ, seed=0).items()}
    train_briefly(model, data, steps=30, batch=16)
    layers = select_layers(model)
    tracked = describe(layers)
    batches = [{k: v[s : s + B] for k, v in data.items()} for s in range(0, n, B)]

    def ours(name: str, dim: int) -> Callable[[], None]:
        proj = make_projector(name, tracked, dim=dim, seed=0)
        return projector_variant(model, layers, proj, batches, to_host=True)

    variants = {
        "plain fwd+bwd": plain_variant(model, batches, refreeze=True),
        "floor": floor_variant(model, layers, batches),
        "default": ours(DEFAULT_PROJECTOR, 65536),
        "rapidgrad": ours("rapidgrad", 65536),
        "kronecker K=4096": ours("kronecker", 4096),
        "rapidgrad K=4096": ours("rapidgrad", 4096),
    }
    V = {k: _time_on_device(fn, dev, args.reps, n) for k, fn in variants.items()}
    res: dict = {
        "device": torch.cuda.get_device_name(dev),
        "model": {
            "params": count_parameters(model),
            "tracked": sum(t.d_out * t.d_in for t in tracked),
            "layers": len(tracked),
            "seq": SEQ,
            "batch": B,
            "samples": n,
        },
        "machine": {"threads": torch.get_num_threads()},
        "variants": V,
        "default_projector": DEFAULT_PROJECTOR,
    }
    fl = V["floor"]["samples_per_s"]
    res["ratios"] = {f"{k}/floor": v["samples_per_s"] / fl for k, v in V.items()}
    res["ratios"]["default peak / plain"] = V["default"]["peak_mb"] / max(V["plain fwd+bwd"]["peak_mb"], 1e-9)
    res["fidelity"] = projector_fidelity(model, layers, tracked, data, 48, B)
    return res
