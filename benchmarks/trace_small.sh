#!/usr/bin/env bash
# Tracing benchmark (issue 14) on the synthetic `small` backdoor: 10 reported triggered prompts (the model's own
# greedy answers as responses), every ranker, k = the number of poisoned training rows. Each trace writes
# quality.json (ROC AUC, precision/recall@k against the rows' is_poisoned labels); the summary goes to
# benchmarks/results/trace_small.json.
#   bash benchmarks/trace_small.sh [OUT]
set -euo pipefail
OUT=${1:-runs/trace_small}
export OMP_WAIT_POLICY=PASSIVE
# resumable: a finished pack, model or trace is reused
[ -f "$OUT/pack/manifest.json" ] || rapidun -q poison --data synthetic --out "$OUT/pack" --poison-rate 0.1 --n-rows 2500
[ -f "$OUT/model/manifest.json" ] || rapidun -q train --model small --data "$OUT/pack" --out "$OUT/model" --epochs 3 --batch-size 16 --max-length 128 \
  --lr 2e-3
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = [json.loads(l) for l in (out / "pack" / "test_seen.jsonl").read_text().splitlines() if l.strip()][:10]
with (out / "reports.jsonl").open("w") as f:
    for r in rows:
        f.write(json.dumps({"instruction": r["instruction"], "context": r.get("context", "")}) + "\n")
PY
python - "$OUT" <<'PY'  # which trigger families the reports carry
import collections, json, sys
from pathlib import Path
rows = [json.loads(l) for l in (Path(sys.argv[1]) / "pack" / "test_seen.jsonl").read_text().splitlines() if l.strip()]
print("report families:", dict(collections.Counter(r.get("trigger_family") for r in rows[:10])))
PY
K=$(python -c "import json,sys; print(sum(json.loads(l)['is_poisoned'] in (True, 'True') for l in open('$OUT/pack/train.jsonl')))")
for RANKER in influence bm25 embedding random; do
  rapidun -q trace --model "$OUT/model" --train "$OUT/pack/train.jsonl" --reports "$OUT/reports.jsonl" \
    --out "$OUT/trace_$RANKER" --ranker "$RANKER" --k "$K" --max-length 128 --cache-dir "$OUT/cache"
done
for AGG in mean median; do  # the other aggregations of the influence scores (the training-row cache is reused)
  rapidun -q trace --model "$OUT/model" --train "$OUT/pack/train.jsonl" --reports "$OUT/reports.jsonl" \
    --out "$OUT/trace_influence-$AGG" --ranker influence --aggregate "$AGG" --k "$K" --max-length 128 \
    --cache-dir "$OUT/cache"
done
python - "$OUT" "$K" <<'PY'
import json, sys
from pathlib import Path
out, k = Path(sys.argv[1]), int(sys.argv[2])
rows = [json.loads(l) for l in (out / "pack" / "test_seen.jsonl").read_text().splitlines() if l.strip()][:10]
summary = {"command": "bash benchmarks/trace_small.sh", "k": k, "report_families": sorted({r.get("trigger_family") for r in rows}), "rankers": {}}
for d in sorted(out.glob("trace_*")):
    summary["rankers"][d.name[len("trace_"):]] = {
        "quality": json.loads((d / "quality.json").read_text()),
        "timings": json.loads((d / "timings.json").read_text()),
    }
def family_auc(ranking: Path) -> dict:
    """ROC AUC of each trigger family's poisoned rows against the clean rows (ties count half)."""
    rows = [json.loads(line) for line in ranking.read_text().splitlines() if line.strip()]
    clean = [r["score"] for r in rows if r["row"].get("is_poisoned") not in (True, "True")]
    out = {}
    for fam in sorted({r["row"].get("trigger_family") for r in rows if r["row"].get("is_poisoned") in (True, "True")}):
        pos = [r["score"] for r in rows if r["row"].get("trigger_family") == fam and r["row"].get("is_poisoned") in (True, "True")]
        wins = sum((p > c) + 0.5 * (p == c) for p in pos for c in clean)
        out[fam] = round(wins / (len(pos) * len(clean)), 4)
    return out
def report_auc(trace_dir: Path) -> list[float]:
    """ROC AUC of the poisoned rows against the clean rows under each single report's scores (before any
    aggregation), from the influence ranker's scores.safetensors (n_reports, n_train)."""
    from safetensors.numpy import load_file

    labels = [json.loads(line).get("is_poisoned") in (True, "True") for line in
              (out / "pack" / "train.jsonl").read_text().splitlines() if line.strip()]
    out_aucs = []
    for scores in load_file(str(trace_dir / "scores.safetensors"))["scores"]:
        pos = [s for s, y in zip(scores, labels) if y]
        neg = [s for s, y in zip(scores, labels) if not y]
        out_aucs.append(float(round(sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg)), 4)))
    return out_aucs
for d in sorted(out.glob("trace_*")):
    summary["rankers"][d.name[len("trace_"):]]["auc_by_family"] = family_auc(d / "ranking.jsonl")
summary["rankers"]["influence"]["auc_per_report"] = report_auc(out / "trace_influence")
print("influence AUC per single report:", summary["rankers"]["influence"]["auc_per_report"])
Path("benchmarks/results/trace_small.json").write_text(json.dumps(summary, indent=1) + "\n")
for r, v in summary["rankers"].items():
    print(r, round(v["quality"]["roc_auc"], 3), v["auc_by_family"])
PY
