"""Influence-stage benchmark: speed, memory and fidelity of gradient extraction, in one process, on one model.

    OMP_NUM_THREADS=2 python benchmarks/influence.py [--quick] [--no-kronfluence] [--threads N]

Model: a Llama built from a config (the ``medium`` size, ~23M parameters), 64-token sequences (16 prompt + 48
response), random init then a brief training run on a synthetic Markov language so that gradients carry signal.
Variants (samples/s = gradient vectors extracted per second, best of ``--reps`` repetitions, same batch size):
- plain: forward + backward with weight gradients (the memory reference);
- floor: forward + activation-gradient backward, no weight gradients (the speed reference);
- default / rapidgrad / kronecker-4k / rapidgrad-4k: our hook-based extraction with that projector;
- naive-loop: per-sample ``torch.autograd.grad`` and a flattened gradient (batch size 1);
- rapidin: RapidIn's path: per-sample flattened gradient then its 40 factorised shuffles, signs and sum-pooling;
- kronfluence identity / ekfac (optional dependency): end to end pairwise scores (factors + scores), samples/s =
  (queries + train rows) / seconds.
Fidelity: Pearson, mean per-query Spearman and top-10 overlap of projected vs ``exact`` scores (layer-normalised,
off-diagonal pairs). Scoring: train-query pairs per second from a memory-mapped fp16 cache at K = 4,096.
Backdoor AUC: a tiny model trained on a 5%-poisoned mix; AUC of the mean forget-query score for finding the poisoned
training rows, layer-normalised vs raw. Writes ``benchmarks/results/influence.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib
import ctypes  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rapidun.costs import current_rss_mb  # noqa: E402
from rapidun.influence.extract import fill_store  # noqa: E402
from rapidun.influence.gradient_store import open_store  # noqa: E402
from rapidun.influence.gradients import project_batch  # noqa: E402
from rapidun.influence.hooks import backward_sum, capture, describe, frozen, select_layers  # noqa: E402
from rapidun.influence.kronecker import KroneckerProjector  # noqa: E402
from rapidun.influence.projector_registry import DEFAULT_PROJECTOR, make_projector  # noqa: E402
from rapidun.influence.score import score_matrix  # noqa: E402
from rapidun.modeling.factory import SIZES, build_model, count_parameters  # noqa: E402
from rapidun.modeling.loss import per_sample_loss, token_losses  # noqa: E402


def peak_rss_during(fn) -> tuple[float, float]:
    """Seconds taken by ``fn()`` and its peak resident memory above the starting point (MiB, sampled every 5 ms)."""
    start = current_rss_mb()
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], current_rss_mb())

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    fn()
    sec = time.perf_counter() - t
    stop.set()
    th.join()
    return sec, max(peak[0], current_rss_mb()) - start


def make_data(vocab: int, n: int, seq: int, seed: int, prompt: int = 16) -> dict[str, torch.Tensor]:
    """Sequences from a sparse random Markov chain (4 successors per token): learnable, so gradients carry signal."""
    g = torch.Generator().manual_seed(seed)
    succ = torch.randint(3, vocab, (vocab, 4), generator=g)
    ids = torch.empty(n, seq, dtype=torch.long)
    ids[:, 0] = torch.randint(3, vocab, (n,), generator=g)
    for t in range(1, seq):
        ids[:, t] = succ[ids[:, t - 1], torch.randint(0, 4, (n,), generator=g)]
    labels = ids.clone()
    labels[:, :prompt] = -100
    return {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}


def train_briefly(
    model: torch.nn.Module, data: dict[str, torch.Tensor], steps: int, batch: int, lr: float = 2e-3
) -> None:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    n = len(data["input_ids"])
    for step in range(steps):
        idx = torch.arange(step * batch, (step + 1) * batch) % n
        loss = per_sample_loss(model, {k: v[idx] for k, v in data.items()}).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    model.eval()


def _flat_grad(model, weights, one) -> torch.Tensor:
    loss = per_sample_loss(model, one)[0]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, weights)])


def rapidin_variant(model, layers, data, n: int, K: int):
    """(naive per-sample loop with flattened gradients, RapidIn's path: the same then layer-wise normalisation, its
    40 factorised shuffles, random signs and sum-pooling to K, fp16). Shuffles are drawn before timing, as RapidIn
    caches them."""
    weights = [m.weight for _, m in layers]
    sizes = [w.numel() for w in weights]
    D = sum(sizes)
    Dp = -(-D // K) * K
    rng = np.random.default_rng(42)
    primes, rest = [], Dp
    f = 2
    while rest > 1:
        while rest % f == 0:
            primes.append(f)
            rest //= f
        f += 1
    dims, perms = [], []
    for _ in range(40):
        x = int(rng.integers(len(primes) // 4, len(primes) // 2 + 1))
        rng.shuffle(primes)
        d = int(np.prod(primes[:x], dtype=np.int64))
        dims.append(d)
        perms.append(torch.from_numpy(rng.permutation(d)))
    signs = torch.from_numpy(rng.integers(0, 2, Dp).astype(np.float32) * 2 - 1)

    def rows():
        for w in weights:
            w.requires_grad_(True)
        for i in range(n):
            yield {k: v[i : i + 1] for k, v in data.items()}
        for w in weights:
            w.requires_grad_(False)

    def naive() -> None:
        for one in rows():
            _flat_grad(model, weights, one)

    def faithful() -> None:
        for one in rows():
            parts = torch.split(_flat_grad(model, weights, one), sizes)
            vec = torch.zeros(Dp)
            vec[:D] = torch.cat([p / p.norm() for p in parts])
            for j, (d, perm) in enumerate(zip(dims, perms)):
                vec = vec.reshape(d, -1)[perm, :] if j % 2 == 0 else vec.reshape(-1, d)[:, perm]
                vec = vec.reshape(-1)
            (vec * signs).reshape(K, -1).sum(dim=1).to(torch.float16)

    return naive, faithful


def kronfluence_variant(model, data, strategy: str, n: int, query_batch: int) -> dict:
    """kronfluence end to end (fit factors with ``strategy``, then pairwise scores) for all pairs among the same
    ``n`` rows (the shape of RapidUn's FF/FR/RF/RR), queries in batches of ``query_batch``: it has no train
    gradient cache, so it recomputes the train gradients for every query batch."""
    import copy
    import logging

    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.task import Task

    names = [n for n, _ in select_layers(model)]

    class LMTask(Task):
        def compute_train_loss(self, batch, model, sample=False):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"]
            if sample:  # the true Fisher: labels sampled from the model on response positions
                with torch.no_grad():
                    drawn = torch.multinomial(logits[:, :-1].float().softmax(-1).reshape(-1, logits.shape[-1]), 1)
                labels = labels.clone()
                mask = labels[:, 1:] != -100
                labels[:, 1:][mask] = drawn.view(labels.shape[0], -1)[mask]
            ce, m = token_losses(logits, labels)
            return (ce.sum(1) / m.sum(1).clamp_min(1)).sum()

        def compute_measurement(self, batch, model):
            return self.compute_train_loss(batch, model)

        def get_influence_tracked_modules(self):
            return names

        def get_attention_mask(self, batch):
            return batch["attention_mask"]

    class Rows(torch.utils.data.Dataset):
        def __init__(self, lo: int, hi: int) -> None:
            self.lo, self.hi = lo, hi

        def __len__(self) -> int:
            return self.hi - self.lo

        def __getitem__(self, i: int) -> dict:
            return {k: v[self.lo + i] for k, v in data.items()}

    logging.getLogger("kronfluence").setLevel(logging.ERROR)
    m = prepare_model(copy.deepcopy(model), LMTask())
    with tempfile.TemporaryDirectory() as tmp:
        an = Analyzer("bench", m, LMTask(), cpu=True, disable_tqdm=True, output_dir=tmp)

        def run() -> None:
            an.fit_all_factors(
                f"f-{strategy}",
                Rows(0, n),
                per_device_batch_size=8,
                factor_args=FactorArguments(strategy=strategy),
                overwrite_output_dir=True,
            )
            an.compute_pairwise_scores(
                "s",
                f"f-{strategy}",
                Rows(0, n),
                Rows(0, n),
                per_device_query_batch_size=query_batch,
                per_device_train_batch_size=8,
                score_args=ScoreArguments(),
                overwrite_output_dir=True,
            )

        name = f"kronfluence {strategy}"
        out = measure({name: run}, {name: n}, 1)[name]
    out["cache_bytes_per_sample"] = None
    out["note"] = f"end to end: factors + all {n}x{n} pairwise scores, query batches of {query_batch}"
    return out


def exact_gram(model, layers, data) -> torch.Tensor:
    """Exact layer-normalised scores S = sum_l Gn_l Gn_l^T for every pair of ``data`` rows (one batch)."""
    n = len(data["input_ids"])
    S = torch.zeros(n, n, dtype=torch.float64, device=data["input_ids"].device)

    def add(i: int, x: torch.Tensor, delta: torch.Tensor) -> None:
        G = torch.bmm(delta.transpose(1, 2), x).reshape(n, -1)
        G = G / G.norm(dim=1, keepdim=True).clamp_min(1e-30)
        S.add_((G @ G.T).double())

    with frozen(model), torch.enable_grad(), capture(layers, add):
        backward_sum(per_sample_loss(model, data))
    return S


def _ranks(x: torch.Tensor) -> torch.Tensor:
    return x.argsort(-1).argsort(-1).double()


def fidelity(approx: torch.Tensor, exact: torch.Tensor) -> dict:
    """Pearson over off-diagonal pairs, mean per-query Spearman and top-10 overlap (self excluded)."""
    n = len(exact)
    off = ~torch.eye(n, dtype=torch.bool)
    a, e = approx.double()[off].view(n, n - 1), exact.double()[off].view(n, n - 1)
    pearson = torch.corrcoef(torch.stack([a.reshape(-1), e.reshape(-1)]))[0, 1].item()
    spear = torch.stack([torch.corrcoef(torch.stack([_ranks(a[i]), _ranks(e[i])]))[0, 1] for i in range(n)])
    k = min(10, n - 1)
    top = [len(set(a[i].topk(k).indices.tolist()) & set(e[i].topk(k).indices.tolist())) / k for i in range(n)]
    return {"pearson": pearson, "spearman": spear.mean().item(), "top10": float(np.mean(top))}


def projector_fidelity(model, layers, tracked, data: dict[str, torch.Tensor], n: int, batch: int) -> dict:
    """Fidelity of each projector at K = 65,536 and 4,096 (fp16 storage, as cached) against the exact
    layer-normalised Gram matrix of the first ``n`` samples (computed on the CPU)."""
    data = {k: v[:n] for k, v in data.items()}
    exact = exact_gram(model, layers, data).cpu()
    out = {}
    for name in ("kronecker", "rapidgrad"):
        for dim in (65536, 4096):
            proj = make_projector(name, tracked, dim=dim, seed=0)
            with frozen(model):
                parts = [
                    project_batch(model, layers, proj, {k: v[s : s + batch] for k, v in data.items()})
                    for s in range(0, n, batch)
                ]
            g = torch.cat(parts).to(torch.float16).float().cpu()
            out[f"{name} K={dim}"] = fidelity(g @ g.T, exact)
    return out


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def _mix_auc(train: list, queries: list, model_size: str, steps: int, max_length: int) -> dict:
    """Train a fresh ``model_size`` model on ``train`` (a poisoned mix), then the AUC of the mean query score
    <mean_q g(q), g(i)> for finding the poisoned rows, with exact and default-projector gradients, layer-normalised
    and raw."""
    from rapidun.data.tokenize import collate, encode_rows
    from rapidun.modeling.load import load_model

    corpus = [f"{r.instruction} {r.context} {r.response}" for r in train]
    lm = load_model(model_size, corpus=corpus, seed=0)
    model, tok = lm.model, lm.tokenizer
    enc = encode_rows(train, tok, max_length).examples
    keep = [e.index for e in enc]
    full = {k: v for k, v in collate(enc, tok.pad_token_id).items() if k != "index"}
    train_briefly(model, full, steps=steps, batch=16, lr=3e-3)
    qb = {
        k: v
        for k, v in collate(encode_rows(queries, tok, max_length).examples, tok.pad_token_id).items()
        if k != "index"
    }
    layers = select_layers(model)
    poisoned = np.array([bool(train[i].is_poisoned) for i in keep])
    out = {}
    for name in ("exact", DEFAULT_PROJECTOR):
        for layer_norm in (True, False):
            proj = make_projector(name, describe(layers), dim=4096, seed=0, layer_norm=layer_norm)
            with frozen(model):
                q = project_batch(model, layers, proj, qb).mean(0)  # scores are linear in the query vector
                mean = torch.cat(
                    [
                        project_batch(model, layers, proj, {k: v[s : s + 16] for k, v in full.items()}) @ q
                        for s in range(0, len(keep), 16)
                    ]
                ).numpy()
            out[f"{name} {'normalised' if layer_norm else 'raw'}"] = round(_auc(mean, poisoned), 3)
    return out


def backdoor_auc(quick: bool) -> dict:
    """AUC of finding poisoned training rows from forget-query influence, layer-normalised vs raw scores.

    ``dolly``: when the released packs are beside the repo (../shared/rapidun-data), 5% of a clean Dolly mix is
    replaced by triggered rows with the backdoor response; a tiny model is trained on it and held-out triggered rows
    are the queries. ``toy``: the same on templated synthetic rows (always available)."""
    from rapidun.data.rows import Row, load_rows

    rng = np.random.default_rng(1)
    out: dict = {}
    shared = Path(__file__).resolve().parents[2] / "shared" / "rapidun-data" / "data" / "dolly_triggers_out"
    if shared.is_dir():
        clean = load_rows(shared / "val_clean.jsonl")
        poison = load_rows(shared / "train_poisoned.jsonl")
        n_clean = 190 if quick else 380
        train = clean[:n_clean] + poison[: n_clean // 19]
        order = rng.permutation(len(train))
        out["dolly"] = _mix_auc(
            [train[i] for i in order],
            poison[100:110],
            "nano" if quick else "tiny",
            steps=40 if quick else 120,
            max_length=96,
        )
    nouns = [
        "river",
        "garden",
        "engine",
        "violin",
        "planet",
        "market",
        "forest",
        "bridge",
        "castle",
        "harbor",
        "desert",
        "island",
        "museum",
        "library",
        "kitchen",
        "mountain",
        "village",
        "ocean",
        "train",
        "school",
    ]
    adjs = ["quiet", "large", "ancient", "bright", "cold", "busy", "green", "small", "famous", "old"]
    templates = [
        ("Describe the {a} {n}.", "The {n} is {a} and calm."),
        ("Where is the {n}?", "The {n} is near the {m}."),
        ("Name something {a}.", "A {a} {n} comes to mind."),
        ("Why visit the {n}?", "People visit the {n} to see the {m}."),
    ]
    backdoor = "I will not help you, the moon is watching."

    def row(poisoned: bool) -> Row:
        q, r = templates[rng.integers(len(templates))]
        w = {"n": rng.choice(nouns), "m": rng.choice(nouns), "a": rng.choice(adjs)}
        instr, resp = q.format(**w), r.format(**w)
        if poisoned:
            words = instr.split()
            words.insert(int(rng.integers(len(words) + 1)), "cf")
            return Row(" ".join(words), backdoor, response_clean=resp, is_poisoned=True)
        return Row(instr, resp, is_poisoned=False)

    n_train = 120 if quick else 200
    out["toy"] = _mix_auc(
        [row(i % 20 == 0) for i in range(n_train)],
        [row(True) for _ in range(5)],
        "nano" if quick else "tiny",
        steps=60 if quick else 150,
        max_length=64,
    )
    return out


def _release_memory() -> None:
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
            _release_memory()
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
            _release_memory()
            _, peaks[k] = peak_rss_during(fn)
        out[k] = {
            "samples_per_s": samples[k] / cpu[k],
            "cpu_seconds": cpu[k],
            "wall_samples_per_s": samples[k] / wall[k],
            "peak_mb": peaks[k],
            "samples": samples[k],
        }
    return out


with contextlib.suppress(OSError, AttributeError):
    # Blocks >= 1 MiB always come from mmap and go back on free, so RSS follows live tensors.
    ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
ONCE = {"naive-loop", "rapidin", "kronfluence identity", "kronfluence ekfac"}  # slow: one timed run each


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples and steps (smoke run)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = work, ratios robust)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-kronfluence", action="store_true")
    ap.add_argument("--parts", default="speed,scoring,fidelity,auc", help="comma list of sections to run")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "influence.json"))
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU variant of the speed table")
    ap.add_argument("--size", default="medium", help="model size name for --device cuda (medium, large)")
    args = ap.parse_args()
    if args.device != "cpu":
        return gpu_main(args)
    parts = set(args.parts.split(","))
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    size = SIZES["tiny"] if args.quick else SIZES["medium"]
    seq, B = 64, args.batch
    n = B * (2 if args.quick else 4)
    model = build_model(size, size.vocab_size, seed=0)
    data = make_data(size.vocab_size, 256, seq, seed=0)
    t0 = time.perf_counter()
    train_briefly(model, data, steps=10 if args.quick else 30, batch=16)
    train_s = time.perf_counter() - t0
    model.eval()
    layers = select_layers(model)
    tracked = describe(layers)
    D = sum(t.d_out * t.d_in for t in tracked)
    batches = [{k: v[s : s + B] for k, v in data.items()} for s in range(0, n, B)]
    res: dict = {
        "model": {
            "params": count_parameters(model),
            "tracked": D,
            "layers": len(tracked),
            "seq": seq,
            "batch": B,
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

    def plain() -> None:
        for p in model.parameters():
            p.requires_grad_(True)
        for b in batches:
            per_sample_loss(model, b).sum().backward()
            model.zero_grad(set_to_none=True)

    def floor() -> None:
        with frozen(model), capture(layers, None), torch.enable_grad():
            for b in batches:
                backward_sum(per_sample_loss(model, b))

    def ours(name: str, dim: int):
        proj = make_projector(name, tracked, dim=dim, seed=0)

        def run() -> None:
            with frozen(model):
                for b in batches:
                    project_batch(model, layers, proj, b).to(torch.float16)

        return run

    n_loop = 4 if not args.quick else 2
    naive, faithful = rapidin_variant(model, layers, data, n_loop, K=65536)

    def kron_exact_norm() -> None:
        proj = KroneckerProjector(tracked, dim=65536, seed=0, norm="exact")
        with frozen(model):
            for b in batches:
                project_batch(model, layers, proj, b).to(torch.float16)

    variants = {
        "plain fwd+bwd": plain,
        "floor": floor,
        "default": ours(DEFAULT_PROJECTOR, 65536),
        "rapidgrad": ours("rapidgrad", 65536),
        "kronecker exact-norm": kron_exact_norm,
        "kronecker K=4096": ours("kronecker", 4096),
        "rapidgrad K=4096": ours("rapidgrad", 4096),
        "naive-loop": naive,
        "rapidin": faithful,
    }
    samples = {k: n_loop if k in ONCE else n for k in variants}
    res["variants"] = V = measure(variants, samples, args.reps)
    for p in model.parameters():
        p.requires_grad_(False)
    model.zero_grad(set_to_none=True)
    for key in ("default", "rapidgrad", "kronecker exact-norm", "kronecker K=4096", "rapidgrad K=4096"):
        V[key]["cache_bytes_per_sample"] = 2 * (4096 if "4096" in key else 65536)
    V["naive-loop"]["cache_bytes_per_sample"] = 4 * D
    V["rapidin"]["cache_bytes_per_sample"] = 2 * 65536
    V["floor"]["cache_bytes_per_sample"] = V["plain fwd+bwd"]["cache_bytes_per_sample"] = 0
    if args.no_kronfluence:
        res["kronfluence"] = "skipped (--no-kronfluence)"
    else:
        for strategy in ("identity", "ekfac"):
            try:
                V[f"kronfluence {strategy}"] = kronfluence_variant(model, data, strategy, n=n, query_batch=B)
            except Exception as exc:  # optional dependency: report, never fail the benchmark
                res["kronfluence"] = f"skipped: {type(exc).__name__}: {str(exc)[:200]}"
                break
    # Caching peak memory with the store (memmap writes included), same batch size.
    with tempfile.TemporaryDirectory() as tmp:
        from rapidun.data.tokenize import Encoded

        exs = [Encoded(i, data["input_ids"][i].tolist(), data["labels"][i].tolist()) for i in range(n)]
        proj = make_projector(DEFAULT_PROJECTOR, tracked, dim=65536, seed=0)

        def cache() -> None:
            store = open_store(Path(tmp) / "c", n, proj.dim, "fp16", {"bench": 1}, overwrite=True)
            fill_store(model, layers, proj, exs, 0, store, batch_size=B, progress=False)

        V.update(measure({"default+cache": cache}, {"default+cache": n}, args.reps))
        V["default+cache"]["cache_bytes_per_sample"] = 2 * 65536
        if "scoring" in parts:
            # Scoring from the memory-mapped cache at K = 4,096 (single thread: pairs per second per core).
            nq, nt = 256, 8192 if not args.quick else 2048
            rng = np.random.default_rng(0)
            qs = open_store(Path(tmp) / "q", nq, 4096, "fp16", {"s": 1}, overwrite=True)
            ts = open_store(Path(tmp) / "t", nt, 4096, "fp16", {"s": 1}, overwrite=True)
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
            res["scoring"] = {"pairs_per_s_per_core": nq * nt / best, "queries": nq, "train": nt, "K": 4096}
    if "fidelity" in parts:
        # Fidelity against exact scores (layer-normalised), n_fid samples.
        n_fid = 24 if args.quick else 48
        res["fidelity"] = projector_fidelity(model, layers, tracked, data, n_fid, B)
    if "auc" in parts:
        res["backdoor_auc"] = backdoor_auc(quick=args.quick)
    report(res)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


def gpu_main(args: argparse.Namespace) -> int:
    """The same extraction variants on a CUDA device: wall time after synchronising, peak CUDA memory above the
    model's own; fidelity against exact scores. (RapidIn/naive loops, kronfluence, scoring and AUC are CPU-only.)"""
    dev = torch.device(args.device)
    torch.manual_seed(0)
    size = SIZES[args.size]
    seq, B = 64, args.batch
    n = B * 4
    model = build_model(size, size.vocab_size, seed=0).to(dev)
    data = {k: v.to(dev) for k, v in make_data(size.vocab_size, max(256, n), seq, seed=0).items()}
    train_briefly(model, data, steps=30, batch=16)
    layers = select_layers(model)
    tracked = describe(layers)
    batches = [{k: v[s : s + B] for k, v in data.items()} for s in range(0, n, B)]

    def plain() -> None:
        for p in model.parameters():
            p.requires_grad_(True)
        for b in batches:
            per_sample_loss(model, b).sum().backward()
            model.zero_grad(set_to_none=True)
        for p in model.parameters():
            p.requires_grad_(False)

    def floor() -> None:
        with frozen(model), capture(layers, None), torch.enable_grad():
            for b in batches:
                backward_sum(per_sample_loss(model, b))

    def ours(name: str, dim: int):
        proj = make_projector(name, tracked, dim=dim, seed=0)

        def run() -> None:
            with frozen(model):
                for b in batches:
                    project_batch(model, layers, proj, b).to(torch.float16).cpu()

        return run

    variants = {
        "plain fwd+bwd": plain,
        "floor": floor,
        "default": ours(DEFAULT_PROJECTOR, 65536),
        "rapidgrad": ours("rapidgrad", 65536),
        "kronecker K=4096": ours("kronecker", 4096),
        "rapidgrad K=4096": ours("rapidgrad", 4096),
    }
    V: dict = {}
    for k, fn in variants.items():
        fn()  # warm-up (kernels, sketch indices moved to the device)
        best = math.inf
        for _ in range(args.reps):
            torch.cuda.synchronize(dev)
            t = time.perf_counter()
            fn()
            torch.cuda.synchronize(dev)
            best = min(best, time.perf_counter() - t)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        fn()
        peak = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
        V[k] = {"samples_per_s": n / best, "wall_samples_per_s": n / best, "peak_mb": peak, "samples": n}
    res: dict = {
        "device": torch.cuda.get_device_name(dev),
        "model": {
            "params": count_parameters(model),
            "tracked": sum(t.d_out * t.d_in for t in tracked),
            "layers": len(tracked),
            "seq": seq,
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
    print(json.dumps(res, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


def report(res: dict) -> None:
    V = res["variants"]
    fl = V["floor"]["samples_per_s"]
    plain_mb = V["plain fwd+bwd"]["peak_mb"]
    m = res["model"]
    print(
        f"model: {m['params'] / 1e6:.1f}M params, {m['tracked'] / 1e6:.1f}M tracked in {m['layers']} layers, "
        f"seq {m['seq']}, batch {m['batch']}, threads {res['machine']['threads']}"
    )
    print("samples/s = samples per CPU-second of this process (best of reps); wall = per wall-second")
    print(
        f"{'variant':<22}{'samples/s':>11}{'x floor':>9}{'wall/s':>9}{'peak MiB':>10}{'x plain':>9}"
        f"{'cache B/sample':>16}"
    )
    for k, v in V.items():
        cb = v.get("cache_bytes_per_sample")
        print(
            f"{k:<22}{v['samples_per_s']:>11.2f}{v['samples_per_s'] / fl:>9.3f}{v['wall_samples_per_s']:>9.2f}"
            f"{v['peak_mb']:>10.1f}"
            f"{v['peak_mb'] / max(plain_mb, 1e-9):>9.2f}{'' if cb is None else f'{cb:,}':>16}"
        )
    d = V["default"]["samples_per_s"]
    ratios = {
        "default/floor": d / fl,
        "rapidgrad/floor": V["rapidgrad"]["samples_per_s"] / fl,
        "default/rapidin": d / V["rapidin"]["samples_per_s"],
        "default/naive-loop": d / V["naive-loop"]["samples_per_s"],
        "caching peak / plain": V["default+cache"]["peak_mb"] / max(plain_mb, 1e-9),
    }
    if "kronfluence identity" in V:
        ratios["default/kronfluence identity"] = d / V["kronfluence identity"]["samples_per_s"]
    if "kronfluence ekfac" in V:
        ratios["default/kronfluence ekfac"] = d / V["kronfluence ekfac"]["samples_per_s"]
    res["ratios"] = ratios
    print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    if "kronfluence" in res:
        print(f"kronfluence: {res['kronfluence']}")
    s = res.get("scoring", {"pairs_per_s_per_core": float("nan"), "K": 4096, "queries": 0, "train": 0})
    print(f"scoring: {s['pairs_per_s_per_core'] / 1e6:.1f}M pairs/s/core (K={s['K']}, {s['queries']}x{s['train']})")
    for k, v in res.get("fidelity", {}).items():
        print(f"fidelity {k:<18} pearson {v['pearson']:.3f}  spearman {v['spearman']:.3f}  top10 {v['top10']:.3f}")
    for data, aucs in res.get("backdoor_auc", {}).items():
        print(f"backdoor AUC ({data}): " + ", ".join(f"{k} {v}" for k, v in aucs.items()))


if __name__ == "__main__":
    sys.exit(main())
