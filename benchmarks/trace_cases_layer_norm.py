"""Does the per-layer normalisation of the gradients decide whether a single report finds the poisoned rows?
(docs/tracing.md, "Why single reports look weak"; issue 14.)

    python benchmarks/trace_cases_layer_norm.py [RUN]      # after benchmarks/trace_cases.py RUN

On a subset of the training rows of RUN/pack (all 213 poisoned rows and the first 387 clean ones, to keep the
two extra caching passes short), the reports of case `seen10` (RUN/cases/seen10/influence-abs/reports.jsonl) are
scored by the influence stage with and without layer normalisation (same projector, seed, K and max length as the
trace). Writes benchmarks/results/trace_cases_layer_norm.json: per-report ROC AUC of the signed and absolute scores,
and the AUC of their max over per-report z-scores (the trace's default aggregation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from rapidun.data.rows import Row, load_rows
from rapidun.influence.stage import compute_pairwise
from rapidun.modeling.load import load_model
from rapidun.tracing.aggregate import aggregate_scores
from rapidun.tracing.quality import roc_auc

N_CLEAN = 387
MAX_LENGTH = 128


def main(run: Path) -> None:
    train = load_rows(run / "pack" / "train.jsonl")
    subset = [r for r in train if r.is_poisoned] + [r for r in train if not r.is_poisoned][:N_CLEAN]
    labels = np.array([bool(r.is_poisoned) for r in subset])
    lines = (run / "cases" / "seen10" / "influence-abs" / "reports.jsonl").read_text(encoding="utf-8").splitlines()
    reports = [Row(d["instruction"], d["response"], d.get("context", "")) for d in map(json.loads, lines)]
    model = load_model(str(run / "model"))
    model.model.eval()
    out: dict = {
        "command": f"python benchmarks/trace_cases_layer_norm.py {run}",
        "rows": {"poisoned": int(labels.sum()), "clean": int((~labels).sum())},
        "reports": "case seen10 of benchmarks/trace_cases.py (10 reports, greedy responses)",
        "layer_norm": {},
    }
    for layer_norm in (True, False):
        res = compute_pairwise(
            model.model,
            model.tokenizer,
            subset,
            reports,
            run / "layer_norm" / str(layer_norm),
            max_length=MAX_LENGTH,
            layer_norm=layer_norm,
            rapidin_json=False,
            progress=False,
        )
        scores = np.asarray(res.scores["QT"], dtype=np.float64)
        out["layer_norm"][str(layer_norm).lower()] = {
            score: {
                "auc_per_report": [round(roc_auc(s, labels), 4) for s in values],
                "auc_max_of_z": round(roc_auc(aggregate_scores(values, "max"), labels), 4),
            }
            for score, values in (("signed", scores), ("abs", np.abs(scores)))
        }
        print(layer_norm, json.dumps(out["layer_norm"][str(layer_norm).lower()]), flush=True)
    Path("benchmarks/results/trace_cases_layer_norm.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/trace_small"))
