"""Markdown tables of a forget-source study (configs/trace_forget.yaml) at one perplexity budget, from its
results.json: each trace's quality, and per (method, source) the test ASR, false triggers and paired differences to
the oracle source, and the per-family ASR (the report's tables, restricted to one budget).
    python benchmarks/trace_forget_summary.py RESULTS_JSON [--budget 1.1] [--dataset synthetic]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rapidun.reporting.sources import family_table, outcome_table, quality_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--budget", default="1.1")
    parser.add_argument("--dataset", default="synthetic")
    args = parser.parse_args()
    frontier = json.loads(args.results.read_text())["frontier"]
    block = frontier["datasets"][args.dataset]
    sources = block["sources"]
    for note in block.get("notes", []):
        print(f"Note: {note}\n")
    print(quality_table(sources).markdown, "", sep="\n")
    print(outcome_table(block, sources, [args.budget]).markdown, "", sep="\n")
    print(family_table(sources, [args.budget]).markdown)


if __name__ == "__main__":
    main()
