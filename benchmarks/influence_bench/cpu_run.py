"""The CPU run of the influence benchmark: speed table, caching memory, scoring rate, fidelity, backdoor AUC."""

from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rapidun.costs import current_rss_mb
from rapidun.influence.extract import fill_store
from rapidun.influence.gradient_store import open_store
from rapidun.influence.hooks import describe, select_layers
from rapidun.influence.kronecker import KroneckerProjector
from rapidun.influence.projector_registry import DEFAULT_PROJECTOR, make_projector
from rapidun.influence.score import score_matrix
from rapidun.modeling.factory import SIZES, build_model, count_parameters

from .backdoor_auc import backdoor_auc
from .extraction import floor_variant, plain_variant, projector_variant
from .fidelity import projector_fidelity
from .kronfluence_run import kronfluence_variant
from .measure import ONCE, measure
from .rapidin import rapidin_variant
from .workload import make_data, train_briefly

SEQ = 64  # tokens per sequence (16 prompt + 48 response)


def _flat_size(tracked: Any) -> int:
    """D: the number of tracked weight entries (the length of a flattened per-sample gradient)."""
    return sum(t.d_out * t.d_in for t in tracked)


def _setup(args: argparse.Namespace) -> tuple[Any, dict, int, dict]:
    """Build and briefly train the model (``tiny`` with --quick, else ``medium``); returns it, its data, the
    number of timed samples and the result's ``model`` and ``machine`` entries."""
    torch.manual_seed(0)
    size = SIZES["tiny"] if args.quick else SIZES["medium"]
    n = args.batch * (2 if args.quick else 4)
    model = build_model(size, size.vocab_size, seed=0)
    data = make_data(size.vocab_size, 256, SEQ, seed=0)
    t0 = time.perf_counter()
    train_briefly(model, data, steps=10 if args.quick else 30, batch=16)
    train_s = time.perf_counter() - t0
    model.eval()
    tracked = describe(select_layers(model))
    res: dict = {
        "model": {
            "params": count_parameters(model),
            "tracked": _flat_size(tracked),
            "layers": len(tracked),
            "seq": SEQ,
            "batch": args.batch,
            "samples": n,
            "train_seconds": train_s,
        },
        "machine": {
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "rss_start_mb": current_rss_mb(),
        },
        "default_projector": DEFAULT_PROJECTOR,
        "variants": {},
    }
    return model, data, n, res


def _speed_table(model: Any, data: dict, n: int, args: argparse.Namespace) -> dict:
    """Samples/s, peak memory and cache bytes per sample of every extraction variant."""
    layers = select_layers(model)
    tracked = describe(layers)
    B = args.batch
    batches = [{k: v[s : s + B] for k, v in data.items()} for s in range(0, n, B)]

    def ours(name: str, dim: int) -> Any:
        return projector_variant(model, layers, make_projector(name, tracked, dim=dim, seed=0), batches)

    def kron_exact_norm() -> None:  # the projector is built inside the timed call
        proj = KroneckerProjector(tracked, dim=65536, seed=0, norm="exact")
        projector_variant(model, layers, proj, batches)()

    n_loop = 4 if not args.quick else 2
    naive, faithful = rapidin_variant(model, layers, data, n_loop, K=65536)
    variants = {
        "plain fwd+bwd": plain_variant(model, batches),
        "floor": floor_variant(model, layers, batches),
        "default": ours(DEFAULT_PROJECTOR, 65536),
        "rapidgrad": ours("rapidgrad", 65536),
        "kronecker exact-norm": kron_exact_norm,
        "kronecker K=4096": ours("kronecker", 4096),
        "rapidgrad K=4096": ours("rapidgrad", 4096),
        "naive-loop": naive,
        "rapidin": faithful,
    }
    V = measure(variants, {k: n_loop if k in ONCE else n for k in variants}, args.reps)
    for p in model.parameters():
        p.requires_grad_(False)
    model.zero_grad(set_to_none=True)
    for key in ("default", "rapidgrad", "kronecker exact-norm", "kronecker K=4096", "rapidgrad K=4096"):
        V[key]["cache_bytes_per_sample"] = 2 * (4096 if "4096" in key else 65536)
    V["naive-loop"]["cache_bytes_per_sample"] = 4 * _flat_size(tracked)
    V["rapidin"]["cache_bytes_per_sample"] = 2 * 65536
    V["floor"]["cache_bytes_per_sample"] = V["plain fwd+bwd"]["cache_bytes_per_sample"] = 0
    return V


def _kronfluence(res: dict, model: Any, data: dict, n: int, args: argparse.Namespace) -> None:
    """Add the kronfluence variants to ``res["variants"]``, or the reason they were skipped as ``res["kronfluence"]``."""
    if args.no_kronfluence:
        res["kronfluence"] = "skipped (--no-kronfluence)"
        return
    for strategy in ("identity", "ekfac"):
        try:
            res["variants"][f"kronfluence {strategy}"] = kronfluence_variant(
                model, data, strategy, n=n, query_batch=args.batch
            )
        except Exception as exc:  # optional dependency: report, never fail the benchmark
            res["kronfluence"] = f"skipped: {type(exc).__name__}: {str(exc)[:200]}"
            break


def _caching_memory(model: Any, data: dict, n: int, tmp: Path, args: argparse.Namespace) -> dict:
    """Caching with the store (memmap writes included), same batch size: the ``default+cache`` variant."""
    from rapidun.data.tokenize import Encoded

    layers = select_layers(model)
    exs = [Encoded(i, data["input_ids"][i].tolist(), data["labels"][i].tolist()) for i in range(n)]
    proj = make_projector(DEFAULT_PROJECTOR, describe(layers), dim=65536, seed=0)

    def cache() -> None:
        store = open_store(tmp / "c", n, proj.dim, "fp16", {"bench": 1}, overwrite=True)
        fill_store(model, layers, proj, exs, 0, store, batch_size=args.batch, progress=False)

    out = measure({"default+cache": cache}, {"default+cache": n}, args.reps)
    out["default+cache"]["cache_bytes_per_sample"] = 2 * 65536
    return out


def _scoring_rate(tmp: Path, args: argparse.Namespace) -> dict:
    """Scoring from the memory-mapped cache at K = 4,096 (single thread: pairs per second per core)."""
    nq, nt = 256, 8192 if not args.quick else 2048
    rng = np.random.default_rng(0)
    qs = open_store(tmp / "q", nq, 4096, "fp16", {"s": 1}, overwrite=True)
    ts = open_store(tmp / "t", nt, 4096, "fp16", {"s": 1}, overwrite=True)
    qs.write(0, torch.from_numpy(rng.normal(size=(nq, 4096)).astype(np.float32)), (0, nq))
    for s in range(0, nt, 1024):
        ts.write(s, torch.from_numpy(rng.normal(size=(1024, 4096)).astype(np.float32)), (0, nt))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    score_matrix(qs.dense(), np.zeros((0, 4096), np.float32))  # warm-up
    best = math.inf
    for _ in range(args.reps):
        t = time.process_time()
        score_matrix(torch.from_numpy(qs.dense()), ts)
        best = min(best, time.process_time() - t)
    torch.set_num_threads(threads)
    return {"pairs_per_s_per_core": nq * nt / best, "queries": nq, "train": nt, "K": 4096}


def run_cpu(args: argparse.Namespace) -> dict:
    """Every section of the CPU benchmark named in ``--parts`` (the speed table always); returns the results."""
    parts = set(args.parts.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    model, data, n, res = _setup(args)
    res["variants"] = _speed_table(model, data, n, args)
    _kronfluence(res, model, data, n, args)
    with tempfile.TemporaryDirectory() as tmp:
        res["variants"].update(_caching_memory(model, data, n, Path(tmp), args))
        if "scoring" in parts:
            res["scoring"] = _scoring_rate(Path(tmp), args)
    if "fidelity" in parts:
        n_fid = 24 if args.quick else 48
        layers = select_layers(model)
        res["fidelity"] = projector_fidelity(model, layers, describe(layers), data, n_fid, args.batch)
    if "auc" in parts:
        res["backdoor_auc"] = backdoor_auc(quick=args.quick)
    return res
