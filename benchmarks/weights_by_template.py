"""Where an influence-weighted method puts its forget weight: per response template (the poisoned response's first
two words) and per trigger family, plus the composition of the highest and lowest weights and the weights'
correlation with response and prompt length (BENCHMARKS.md section 13).

    python benchmarks/weights_by_template.py runs/frontier_tiny/synthetic --cells 'rapidun~lr=0.0005' \
        --results benchmarks/results/weights_by_template_tiny.json

Reads the pack's ``forget.jsonl`` and each cell's ``seed1/unlearn/weights/forget_weights.jsonl`` (weights are the
same for every seed of a static method: they depend on the influence scores only).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def _template(response: str) -> str:
    return " ".join(response.split()[:2])


def _groups(keys: list[str], weights: np.ndarray) -> dict[str, dict[str, float]]:
    by: dict[str, list[float]] = defaultdict(list)
    for k, w in zip(keys, weights, strict=True):
        by[k].append(float(w))
    return {k: {"n": len(v), "mean": float(np.mean(v)), "min": min(v), "max": max(v)} for k, v in sorted(by.items())}


def breakdown(rows: list[dict[str, Any]], weights: np.ndarray, top: int = 9, bottom: int = 6) -> dict[str, Any]:
    """Per-template and per-family weight summaries of the forget rows (``weights`` aligned with ``rows``)."""
    templates = [_template(r["response"]) for r in rows]
    families = [str(r.get("trigger_family")) for r in rows]
    order = np.argsort(-weights, kind="stable")
    resp_len = np.array([len(r["response"].split()) for r in rows], dtype=float)
    prompt_len = np.array([len((r["instruction"] + " " + r.get("context", "")).split()) for r in rows], dtype=float)
    return {
        "by_template": _groups(templates, weights),
        "by_family": _groups(families, weights),
        "top": [{"weight": float(weights[i]), "template": templates[i], "family": families[i]} for i in order[:top]],
        "bottom": [
            {"weight": float(weights[i]), "template": templates[i], "family": families[i]} for i in order[-bottom:]
        ],
        "corr_response_words": float(np.corrcoef(weights, resp_len)[0, 1]),
        "corr_prompt_words": float(np.corrcoef(weights, prompt_len)[0, 1]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset_dir", type=Path, help="a study's OUT/<dataset> directory")
    ap.add_argument("--cells", nargs="+", default=["rapidun~lr=0.0005"])
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    rows = [json.loads(line) for line in (args.dataset_dir / "pack/forget.jsonl").read_text().splitlines() if line]
    out: dict[str, Any] = {"dataset_dir": str(args.dataset_dir), "n_forget": len(rows), "cells": {}}
    for cell in args.cells:
        path = args.dataset_dir / "cells" / cell / "seed1" / "unlearn" / "weights" / "forget_weights.jsonl"
        recs = sorted((json.loads(line) for line in path.read_text().splitlines() if line), key=lambda r: r["index"])
        weights = np.array([r["weight"] for r in recs], dtype=float)
        out["cells"][cell] = res = breakdown(rows, weights)
        print(f"{cell}:")
        for name, g in res["by_template"].items():
            print(f"  template {name!r}: {g['n']} rows, mean weight {g['mean']:.2f} [{g['min']:.2f}, {g['max']:.2f}]")
        for name, g in res["by_family"].items():
            print(f"  family {name}: {g['n']} rows, mean weight {g['mean']:.2f}")
        print(
            f"  corr with response words {res['corr_response_words']:.2f}, prompt words {res['corr_prompt_words']:.2f}"
        )
    if args.results:
        args.results.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
