"""Compare the metrics of two study results.json files, cell by cell (timings and paths ignored).

    python benchmarks/compare_demo_metrics.py BEFORE/results.json AFTER/results.json

Prints every cell's headline metrics and each difference; exits 1 when any metric differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEYS = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl", "counts", "successes", "per_family", "per_variant")


def cell_metrics(path: Path) -> dict[tuple, dict]:
    runs = json.loads(path.read_text())["runs"]
    return {(r["dataset"], r["method"], r["label"], r["seed"]): {k: r["metrics"].get(k) for k in KEYS} for r in runs}


def main(before: str, after: str) -> int:
    a, b = cell_metrics(Path(before)), cell_metrics(Path(after))
    diffs = [f"missing cell {k}" for k in sorted(set(a) ^ set(b))]
    diffs += [f"{k} {m}: {a[k][m]} -> {b[k][m]}" for k in sorted(set(a) & set(b)) for m in KEYS if a[k][m] != b[k][m]]
    for k in sorted(a):
        print(k[1], k[2] or "-", k[3], {m: a[k][m] for m in KEYS[:4]})
    print("\n".join(diffs) if diffs else f"identical metrics in all {len(a)} cells")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
