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

This file is the command line; the parts live in ``benchmarks/influence_bench/`` (one module per part, listed in
its ``__init__``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from influence_bench.cpu_run import run_cpu  # noqa: E402
from influence_bench.gpu_run import run_gpu  # noqa: E402
from influence_bench.report import report  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device != "cpu":
        res = run_gpu(args)
        print(json.dumps(res, indent=1))
    else:
        res = run_cpu(args)
        report(res)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
