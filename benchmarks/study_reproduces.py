"""Does a rerun study reproduce an earlier one? Compares every cell of a raw ``results.json`` with the same cell
(dataset, method, sweep label, seed) of a study's output directory, metric by metric.

    python benchmarks/study_reproduces.py benchmarks/results/frontier_tiny_results.json runs/frontier_tiny \
        --seeds 1 --results benchmarks/results/frontier_tiny_rerun_check.json

With one thread the pipeline is deterministic, so a study extended with new seeds or methods can be trusted to
continue the earlier one only if the cells both hold agree exactly; this prints how many do and lists any that
differ. Cells absent from the dataset directory are counted, not compared.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rapidun.reporting.cells import cell_path

METRICS = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")


def compare(old_runs: list[dict[str, Any]], run_dir: Path, seeds: set[int] | None) -> dict[str, Any]:
    same, differ, absent = [], [], []
    for run in old_runs:
        if run["method"] == "backdoored" or (seeds is not None and run["seed"] not in seeds):
            continue
        cell = cell_path(run_dir, run["dataset"], run["method"], run["label"], run["seed"]) / "cell.json"
        name = f"{cell.parent.parent.name} seed {run['seed']}"
        if not cell.is_file():
            absent.append(name)
            continue
        new = json.loads(cell.read_text())["metrics"]
        gaps = {m: abs(new[m] - run["metrics"][m]) for m in METRICS if m in run["metrics"]}
        (same if max(gaps.values()) == 0.0 else differ).append({"cell": name, "abs_gap": gaps})
    return {"identical": len(same), "different": differ, "absent": absent, "compared": len(same) + len(differ)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old_results", type=Path, help="a study's results.json (its 'runs' list)")
    ap.add_argument("run_dir", type=Path, help="the rerun study's output directory (--out)")
    ap.add_argument("--seeds", type=int, nargs="*", help="compare these seeds only")
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    if not args.old_results.is_file() or not args.run_dir.is_dir():
        raise SystemExit(f"give a results.json and a study's output directory ({args.old_results}, {args.run_dir})")
    runs = json.loads(args.old_results.read_text())["runs"]
    out = compare(runs, args.run_dir, set(args.seeds) if args.seeds else None)
    print(
        f"{out['identical']} of {out['compared']} cells identical on {', '.join(METRICS)}; {len(out['absent'])} absent"
    )
    for d in out["different"]:
        print(f"  differs: {d['cell']} {d['abs_gap']}")
    if args.results:
        args.results.write_text(json.dumps({"source": str(args.old_results), **out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
