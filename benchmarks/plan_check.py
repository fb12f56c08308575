"""Check ``rapidun plan``'s predicted peak memory against measured peaks on CPU (issue 12 acceptance: within 15%).

For each size (tiny, small, medium) a fresh process runs ``rapidun train`` (full fine-tuning, the heaviest
stage) and ``rapidun influence`` on a synthetic pack whose rows fill ``--max-length`` (so the plan's
every-row-is-max-length bound is the real workload); the measured peak is the stage's resident-memory high-water
mark that run.json / timings.json record. The prediction is ``rapidun plan --json`` with the same settings, in its
own fresh process (its runtime term is that process's resident memory after import).

    python benchmarks/plan_check.py            # writes benchmarks/results/plan_check.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = ("tiny", "small", "medium")
SETTINGS = ["--batch-size", "16", "--max-length", "64"]
TOLERANCE = 0.15
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}


def rapidun(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "rapidun", "-q", *args], env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"rapidun {' '.join(args)} failed: {proc.stderr[-800:]}")
    return proc.stdout


WORDS = (
    "the",
    "river",
    "rises",
    "every",
    "spring",
    "and",
    "floods",
    "the",
    "valley",
    "while",
    "farmers",
    "move",
    "their",
    "herds",
    "uphill",
)  # the filler text of the long rows


def long_rows(path: Path, n: int) -> None:
    """Rows of ~120 words, so that every row is cut at --max-length 64 tokens (prompt and response both long)."""
    rows = []
    for i in range(n):
        text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(60))
        rows.append({"instruction": f"Row {i}: summarise {text[:40]}", "context": "", "response": text})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def measure(size: str, root: Path) -> dict[str, float]:
    rows, out = root / "rows.jsonl", root / size
    long_rows(rows, 64)
    rapidun("train", "--model", size, "--data", str(rows), "--out", str(out / "t"), "--max-steps", "3", *SETTINGS)
    run = json.loads((out / "t" / "run.json").read_text())
    forget, retain = root / "f.jsonl", root / "r.jsonl"
    lines = rows.read_text().splitlines()
    forget.write_text("\n".join(lines[:16]) + "\n")
    retain.write_text("\n".join(lines[16:]) + "\n")
    infl = ["influence", "--model", str(out / "t"), "--forget", str(forget), "--retain", str(retain)]
    rapidun(*infl, "--out", str(out / "i"), "--max-length", "64", "--batch-size", "8", "--dim", "1024")
    timings = json.loads((out / "i" / "timings.json").read_text())
    return {
        "train": run["stages"]["training"]["peak_rss_mb"],
        "influence": max(v["peak_rss_mb"] for k, v in timings.items() if k.startswith("cache_")),
        "train_tokens_per_row": run["tokens_per_s"] * run["wall_clock_s"] / (3 * 16),
    }


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            plan = json.loads(rapidun("plan", "--model", size, "--json", *SETTINGS, "--influence-batch-size", "8"))
            measured = measure(size, Path(tmp))
            for stage in ("train", "influence"):
                predicted = next(s for s in plan["stages"] if s["stage"] == stage)
                error = (predicted["peak_mb"] - measured[stage]) / measured[stage]
                results.append(
                    {
                        "size": size,
                        "stage": stage,
                        "predicted_peak_mb": predicted["peak_mb"],
                        "measured_peak_mb": round(measured[stage], 1),
                        "relative_error": round(error, 4),
                        "within_tolerance": abs(error) <= TOLERANCE,
                        "predicted_parts_mb": {
                            k: predicted[k] for k in ("weights_mb", "training_state_mb", "activations_mb")
                        },
                        "runtime_mb": plan["runtime_mb"],
                        "model_part_error": round(
                            (predicted["peak_mb"] - plan["runtime_mb"])
                            / max(1e-9, measured[stage] - plan["runtime_mb"])
                            - 1,
                            4,
                        ),
                        "measured_tokens_per_row": round(measured["train_tokens_per_row"], 1),
                    }
                )
                print(json.dumps(results[-1]))
    out = Path(__file__).parent / "results" / "plan_check.json"
    command = "python benchmarks/plan_check.py"
    out.write_text(
        json.dumps({"command": command, "tolerance": TOLERANCE, "settings": SETTINGS, "results": results}, indent=2)
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
