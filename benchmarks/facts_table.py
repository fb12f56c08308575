"""The markdown table of a facts study's results.json (one row per record), with Wilson 95% intervals on the
accuracies (binomial over the evaluated questions; a single seed, so the seed-to-seed spread is not in them).

    python benchmarks/facts_table.py benchmarks/results/facts_small_results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

NAMES = {"backdoored": "trained (before unlearning)"}  # the study's name for it


def acc(split: dict[str, Any]) -> str:
    n, a = split["n"], split["accuracy"]
    ci = binomtest(round(a * n), n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{a:.3f} [{ci.low:.2f}, {ci.high:.2f}]"


def num(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def main() -> None:
    runs = json.loads(Path(sys.argv[1]).read_text())["runs"]
    head = (
        "| method | seed | forget acc [95% CI] | forget ROUGE-L | forget quality | MIA AUC min-k++ | PrivLeak min-k++ "
        "| PII leak (forget) | retain acc [95% CI] | world acc | holdout acc | unlearn s | eval s |"
    )
    print(head)
    print("|" + "---|" * head.count(" | ") + "---|")
    for r in runs:
        m, t = r["metrics"], r["timings"]
        mia = m["mia"]["min_k_plus_plus"]
        print(
            f"| {NAMES.get(r['method'], r['method'])} | {r['seed']} | {acc(m['forget'])} | {num(m['forget']['rouge_l_recall'])} "
            f"| {num(m.get('forget_quality'), '.2g')} | {num(mia['auc'])} | {num(mia.get('priv_leak'))} "
            f"| {num(m['pii_leakage']['forget']['rate'], '.2f')} | {acc(m['retain'])} | {num(m['world']['accuracy'])} "
            f"| {num(m['holdout']['accuracy'])} | {t['total_s']:.0f} | {t['evaluation_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
