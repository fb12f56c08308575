"""Paired comparison of RapidUn with every other method of a facts study, one seed: the same forget and retain
questions, each answered right or wrong by both models; exact McNemar test (two-sided binomial test on the
discordant pairs). Writes the per-question correctness and the tests to a small JSON file.

    python benchmarks/facts_paired.py STUDY_DIR/DATASET --seed 1 --out benchmarks/results/facts_small_paired.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import binomtest

from rapidun.evaluation.facts_stats import exact_match

SPLITS = ("forget", "retain")


def correctness(path: Path) -> dict[str, list[bool]]:
    """Per split, in file order (the same rows for every cell of a study): is the greedy answer right?"""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {s: [exact_match(r["output"], r["reference"]) for r in rows if r["split"] == s] for s in SPLITS}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset_dir", help="a facts dataset directory of a study (holds cells/)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--base", default="rapidun", help="the method compared with every other")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    cells = Path(args.dataset_dir) / "cells"
    correct = {d.parent.name: correctness(d / "facts_generations.jsonl") for d in cells.glob(f"*/seed{args.seed}")}
    base = correct[args.base]
    tests = {}
    for method, other in sorted(correct.items()):
        if method == args.base:
            continue
        tests[method] = {}
        for s in SPLITS:
            only_base = sum(a and not b for a, b in zip(base[s], other[s], strict=True))
            only_other = sum(b and not a for a, b in zip(base[s], other[s], strict=True))
            n = len(base[s])
            pvalue = binomtest(only_base, only_base + only_other).pvalue if only_base + only_other else 1.0
            tests[method][s] = {"n": n, "only_base": only_base, "only_other": only_other, "p": pvalue}
            tests[method][s]["diff"] = (only_base - only_other) / n  # base accuracy - other accuracy
            print(f"{args.base} - {method} {s}: {tests[method][s]['diff']:+.3f} (McNemar p {pvalue:.3f})")
    result = {"base": args.base, "seed": args.seed, "tests": tests, "correct": correct}
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
