"""GPU smoke benchmark: the influence stage and one RapidUn unlearning run on a ~0.8B-parameter Llama (bf16).

    python benchmarks/gpu_smoke.py [--size large] [--batch-size 32] [--out benchmarks/results/gpu_smoke.json]

The model is built from a config (random init; no weights can be downloaded here) with a tokenizer trained on the
embedded synthetic data; the data is a synthetic backdoor pack (40 forget / 120 retain rows). Reported, in one
process on one GPU:
- floor: samples/s of a forward plus an activation-gradient backward (no weight gradients) over the same encoded
  forget+retain rows and batch size as the influence stage;
- influence: samples/s of gradient caching with the default projector (rows / caching seconds) and its ratio to
  the floor; scoring time; peak GPU memory;
- unlearning: wall-clock and peak GPU memory of one ``rapidun`` run (LoRA r=16 on q,k,v,o,gate,up,down, batch 1,
  2 epochs = 320 steps) reusing those influence scores.
The backdoor is not implanted (that would need real training): this measures speed and memory, not ASR.
Runs on CPU too with ``--size tiny`` (a correctness check of the script itself).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from rapidun.data.pack import load_pack  # noqa: E402
from rapidun.data.poison import build_poison_pack  # noqa: E402
from rapidun.data.synthetic import synthetic_rows  # noqa: E402
from rapidun.data.tokenize import collate, encode_rows  # noqa: E402
from rapidun.data.triggers import resolve_triggers  # noqa: E402
from rapidun.influence.stage import compute_influence  # noqa: E402
from rapidun.modeling.factory import build_model, count_parameters  # noqa: E402
from rapidun.modeling.loss import token_losses  # noqa: E402
from rapidun.modeling.tokenizer import train_tokenizer  # noqa: E402
from rapidun.unlearning import UnlearnConfig, unlearn  # noqa: E402


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def floor_rate(model, batches, reps: int) -> float:
    """Samples/s of forward + backward to the input embeddings only (weights frozen): the extraction floor."""
    for p in model.parameters():
        p.requires_grad_(False)
    emb = model.get_input_embeddings()
    best = float("inf")
    n = sum(b["input_ids"].size(0) for b in batches)
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        for b in batches:
            x = emb(b["input_ids"]).detach().requires_grad_(True)
            out = model(inputs_embeds=x, attention_mask=b["attention_mask"])
            ce, mask = token_losses(out.logits, b["labels"])
            loss = (ce.sum(1) / mask.sum(1).clamp_min(1)).sum()
            torch.autograd.grad(loss, x)
        sync()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="large")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--projector", default=None, help="influence projector (default: the library default)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dtype", default=None, choices=["bf16", "fp32"], help="default: bf16 on GPU, fp32 on CPU")
    ap.add_argument("--out", default="benchmarks/results/gpu_smoke.json")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if (args.dtype or ("bf16" if device == "cuda" else "fp32")) == "bf16" else torch.float32
    if device == "cpu" and args.size == "large":
        print("gpu_smoke: no CUDA device; use --size tiny for a CPU check of the script", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="rapidun_gpu_smoke_"))
    rows = synthetic_rows(1000, 42)
    build_poison_pack(rows, work / "pack", families=resolve_triggers("released"), poison_rate=0.1, seed=42)
    pack = load_pack(work / "pack")
    tok = train_tokenizer([f"{r.instruction} {r.context} {r.response}" for r in pack.train], 32000)
    model = build_model(
        args.size,
        len(tok),
        seed=0,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        dtype=dtype,
    ).to(device)
    model.eval()
    n_params = count_parameters(model)
    res: dict = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor(),
        "torch": torch.__version__,
        "size": args.size,
        "parameters": n_params,
        "dtype": str(dtype),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "command": " ".join(sys.argv),
    }
    print(f"model: {args.size}, {n_params / 1e6:.0f}M parameters, {dtype}, on {res['device']}")

    enc = encode_rows(pack.forget + pack.retain, tok, args.max_length).examples
    batches = [
        {k: v.to(device) for k, v in collate(enc[i : i + args.batch_size], tok.pad_token_id).items()}
        for i in range(0, len(enc), args.batch_size)
    ]
    floor_rate(model, batches[:1], 1)  # warm-up (kernels, allocator)
    res["floor_samples_per_s"] = floor_rate(model, batches, args.reps)

    settings = {"batch_size": args.batch_size, "max_length": args.max_length}
    if args.projector:
        settings["projector"] = args.projector
    t0 = time.perf_counter()
    inf = compute_influence(model, tok, pack.forget, pack.retain, work / "influence", progress=False, **settings)
    sync()
    res["influence_total_s"] = time.perf_counter() - t0
    res["influence_timings"] = inf.timings
    res["influence_projector"] = inf.manifest.get("config", {}).get("projector")
    cache_s = sum(v["seconds"] for k, v in inf.timings.items() if isinstance(v, dict) and "cache" in k)
    n_rows = len(pack.forget) + len(pack.retain)
    res["influence_samples_per_s"] = n_rows / cache_s if cache_s > 0 else None
    res["influence_vs_floor"] = res["influence_samples_per_s"] / res["floor_samples_per_s"] if cache_s > 0 else None
    # Each stage resets the CUDA peak counter, so the stage records hold the peaks.
    res["influence_peak_gpu_mb"] = max(
        (v.get("peak_cuda_mb", 0.0) for v in inf.timings.values() if isinstance(v, dict)), default=None
    )

    for p in model.parameters():
        p.requires_grad_(False)
    t0 = time.perf_counter()
    run = unlearn(
        model,
        tok,
        pack.forget,
        pack.retain,
        work / "unlearn",
        method="rapidun",
        influence_dir=work / "influence",
        train=UnlearnConfig(max_length=args.max_length),
        progress=False,
    )
    sync()
    res["unlearn_wall_s"] = time.perf_counter() - t0
    res["unlearn_steps"] = run.run.get("steps")
    res["unlearn_stages"] = run.run.get("stages")
    res["unlearn_peak_gpu_mb"] = max(
        (v.get("peak_cuda_mb", 0.0) for v in (run.run.get("stages") or {}).values()), default=None
    )

    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, dict)}, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
