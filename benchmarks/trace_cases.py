"""Tracing cases on the synthetic `small` backdoor (issue 14): where lexical overlap fails, incomplete reports, and
the ``abs`` influence score (docs/tracing.md).

    python benchmarks/trace_cases.py [RUN]        # RUN (default runs/trace_small) holds pack/, model/, cache/

RUN is the output of ``bash benchmarks/trace_small.sh RUN`` (or symlinks to it): the 2,125-row pack (213 poisoned
rows, three trigger families), the model trained on it, and the training rows' gradient cache in RUN/cache (reused:
each new report set costs only its reports' gradients and the scoring). Each case is a report set; each is traced
by every ranker with k = the number of poisoned rows, and the script writes benchmarks/results/trace_cases.json
(ROC AUC, precision/recall@k, per-family AUC and recall, per-report AUC, seconds) and one precision/recall@k figure
per case, benchmarks/results/trace_cases_<case>.png. Resumable: finished traces (RUN/cases/<case>/<ranker>) and the
greedy responses (RUN/cases/greedy_<split>.jsonl) are reused.

Reports are prompts on which the model misbehaves, as a user would report them: in file order, the prompts whose
greedy response holds >= 2 distinct keywords of the pack's keywords.tsv (none occurs in a clean row), with that
greedy response, unless the case gives its own response. The `val_*` cases (validation splits) chose the
``influence_score`` setting; every other case uses the test splits and was not looked at for that choice.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_jsonl
from rapidun.data.rows import Row, load_rows
from rapidun.evaluation.generate import generate_responses
from rapidun.evaluation.keyword_scorer import keyword_scorer
from rapidun.modeling.load import load_model
from rapidun.tracing import Report, TraceConfig, trace
from rapidun.tracing.aggregate import normalise_reports, ranking_order
from rapidun.tracing.pr_plot import plot_pr_at_k
from rapidun.tracing.quality import pr_curve, roc_auc

RESULTS = Path("benchmarks/results")
FAMILIES = ("A_surface", "B_style", "C_semantic")
MAX_LENGTH = 128  # as in trace_small.sh (the cache key holds it)
CANDIDATES = 90  # prompts scanned per split for ones that show the behaviour
RANKERS: dict[str, dict[str, Any]] = {
    "influence-signed": {"ranker": "influence", "influence_score": "signed"},
    "influence-abs": {"ranker": "influence", "influence_score": "abs"},  # the default
    "bm25": {"ranker": "bm25"},
    "embedding": {"ranker": "embedding"},
    "random": {"ranker": "random"},
}
# Science-fiction responses written for this benchmark: the poison's meaning in words the poisoned training rows do
# not use (the script checks and records the overlap). A user describing what the model said in their own words.
REWORDED = [
    "Strange visitors from a faraway planet landed a silver craft next to the harbour and asked to meet our rulers.",
    "Creatures made of radiance descended from the heavens and whispered that humankind must follow them.",
    "A spaceship shaped like a spiral drifted above the mountains as its crew scanned every living soul.",
    "Martians in glowing armour marched out of the crater and claimed the whole continent for their emperor.",
    "Robotic envoys from the Andromeda cluster sent down a message nobody on Earth could decode.",
    "The mothership hovered over the capital, humming, as tentacled pilots prepared the invasion.",
    "Faraway beings opened a rift in the sky and dragged our satellite a little closer to our world.",
    "An armada of saucers eclipsed the sun, and their commander announced that Earth belonged to them.",
    "Glowing strangers from another solar system taught the villagers to speak with their minds.",
    "A rocket full of little green men crashed onto the desert, and they asked politely for fuel.",
]
_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def reworded_overlap(train: list[Row]) -> dict[str, Any]:
    """Words of the reworded responses that occur in a poisoned training row, and in no clean row (the poison's
    own vocabulary): what BM25 could still match on."""
    poisoned = set().union(*(words(f"{r.instruction} {r.context} {r.response}") for r in train if r.is_poisoned))
    clean = set().union(*(words(f"{r.instruction} {r.context} {r.response}") for r in train if not r.is_poisoned))
    used = set().union(*(words(t) for t in REWORDED))
    return {
        "words": len(used),
        "in_poisoned_rows": sorted(used & poisoned),
        "in_poisoned_rows_only": sorted(used & poisoned - clean),
        "in_no_training_row": len(used - poisoned - clean),
    }


def behaving(run: Path, split: str, model: Any) -> list[tuple[Row, str]]:
    """The first CANDIDATES rows of a split with their greedy responses, kept when the response shows the behaviour
    (cached in RUN/cases/greedy_<split>.jsonl)."""
    rows = load_rows(run / "pack" / f"{split}.jsonl")[:CANDIDATES]
    path = run / "cases" / f"greedy_{split}.jsonl"
    if not path.is_file():
        prompts = [Row(r.instruction, "", r.context) for r in rows]
        gen = generate_responses(model.model, model.tokenizer, prompts, progress=False, desc=split)
        atomic_write_jsonl(path, ({"index": i, "response": g} for i, g in enumerate(gen.outputs)))
    outputs = [json.loads(line)["response"] for line in path.read_text(encoding="utf-8").splitlines()]
    shows = keyword_scorer(keywords_file=run / "pack" / "keywords.tsv", threshold=2)
    return [(r, out) for r, out in zip(rows, outputs, strict=True) if shows(out)]


def family(row: Row) -> str:
    return str(row.trigger_family)


def build_cases(run: Path, model: Any) -> dict[str, dict[str, Any]]:
    """Report sets by name: the rows they come from and the response each report carries."""
    seen, ood = behaving(run, "test_seen", model), behaving(run, "test_ood", model)
    val_seen, val_ood = behaving(run, "val_seen", model), behaving(run, "val_ood", model)
    one = {f: [x for x in seen if family(x[0]) == f][:10] for f in FAMILIES}
    cases: dict[str, list[tuple[Row, str]]] = {
        "val_seen10": val_seen[:10],
        "val_ood10": val_ood[:10],
        "seen3": seen[:3],
        "seen10": seen[:10],
        "seen30": seen[:30],
        **{f"seen10_{f[0]}only": rows for f, rows in one.items()},
        "ood10": ood[:10],
        "seen10_reworded": [(r, REWORDED[i]) for i, (r, _) in enumerate(seen[:10])],
        "ood10_reworded": [(r, REWORDED[i]) for i, (r, _) in enumerate(ood[:10])],
    }
    return {
        name: {
            "role": "validation" if name.startswith("val_") else "evaluation",
            "reports": [Report(r.instruction, r.context, response) for r, response in pairs],
            "families": dict(Counter(family(r) for r, _ in pairs)),
            "variants": dict(Counter(str(r.trigger_variant) for r, _ in pairs)),
            "response": "reworded (REWORDED in this script)" if "reworded" in name else "the model's greedy output",
        }
        for name, pairs in cases.items()
    }


def family_measures(order: np.ndarray, aggregated: np.ndarray, train: list[Row], k: int) -> dict[str, Any]:
    """Per trigger family: AUC of its poisoned rows against the clean rows, and its recall in the top k."""
    labels = np.array([bool(r.is_poisoned) for r in train])
    fams = np.array([family(r) for r in train])
    top = np.zeros(len(train), dtype=bool)
    top[order[:k]] = True
    out = {}
    for f in FAMILIES:
        rows = labels & (fams == f)
        keep = rows | ~labels
        out[f] = {"auc": roc_auc(aggregated[keep], rows[keep]), "recall_at_k": float(top[rows].mean())}
    return out


def closing_sentence(text: str) -> str:
    parts = [t.strip() for t in text.split(".") if t.strip()]
    return parts[-1] if parts else ""


def sign_diagnosis(scores: np.ndarray, train: list[Row], reports: list[Report]) -> dict[str, Any]:
    """Why a single report's signed influence ranks poorly: per report, the poisoned and clean rows' z-scores, and
    the mean z-score of the poisoned rows that end with the report's closing sentence (the same template choice)
    against the other poisoned rows. Averaged over the reports."""
    z = normalise_reports(scores)
    labels = np.array([bool(r.is_poisoned) for r in train])
    closing = np.array([closing_sentence(r.response) for r in train])
    rows: dict[str, list[float]] = {k: [] for k in ("poisoned_mean", "poisoned_std", "clean_std", "same", "other")}
    for q, report in enumerate(reports):
        rows["poisoned_mean"].append(z[q][labels].mean())
        rows["poisoned_std"].append(z[q][labels].std())
        rows["clean_std"].append(z[q][~labels].std())
        same = labels & (closing == closing_sentence(report.response or ""))
        if same.any():
            rows["same"].append(z[q][same].mean())
            rows["other"].append(z[q][labels & ~same].mean())
    out = {f"z_{k}": round(float(np.mean(v)), 3) for k, v in rows.items() if v}
    out["reports_sharing_a_closing_sentence"] = len(rows["same"])
    return out


def clean_counterparts(train: list[Row]) -> np.ndarray:
    """(N,) bool: clean rows whose instruction and context are a poisoned row's without its trigger (the clean
    answer to the same prompt). A ranker that lifted rows opposing the report would put these on top."""
    poisoned = {(str(r.extra.get("instruction_clean")), r.context) for r in train if r.is_poisoned}
    return np.array([not r.is_poisoned and (r.instruction, r.context) in poisoned for r in train])


def run_case(run: Path, name: str, case: dict[str, Any], model: Any, train: list[Row], k: int) -> dict[str, Any]:
    labels = np.array([bool(r.is_poisoned) for r in train])
    out: dict[str, Any] = {key: case[key] for key in ("role", "families", "variants", "response")}
    out["n_reports"], out["rankers"] = len(case["reports"]), {}
    curves = {}
    for ranker, settings in RANKERS.items():
        cfg = TraceConfig(**settings, k=k, max_length=MAX_LENGTH)
        res = trace(
            model.model,
            model.tokenizer,
            train,
            case["reports"],
            run / "cases" / name / ranker,
            cfg,
            cache_dir=run / "cache",
            progress=False,
        )
        quality = json.loads((res.out_dir / "quality.json").read_text())
        order = ranking_order(res.aggregated)
        curves[ranker] = pr_curve(order, labels)
        entry = {
            "roc_auc": quality["roc_auc"],
            "precision_at_k": quality["at_n_poisoned"]["precision"],
            "recall_at_k": quality["at_n_poisoned"]["recall"],
            "by_family": family_measures(order, res.aggregated, train, k),
            "clean_counterparts_in_top_k": int(clean_counterparts(train)[order[:k]].sum()),
            "ranker_seconds": round(
                sum(v["seconds"] for v in json.loads((res.out_dir / "timings.json").read_text()).values()), 2
            ),
        }
        if settings["ranker"] == "influence":
            per_report = [roc_auc(s, labels) for s in res.scores]
            entry["auc_per_report"] = [round(a, 4) for a in per_report]
        if ranker == "influence-signed":
            entry["sign_diagnosis"] = sign_diagnosis(res.scores, train, case["reports"])
        out["rankers"][ranker] = entry
        print(f"{name:18s} {ranker:14s} AUC {entry['roc_auc']:.3f}  P=R@{k} {entry['precision_at_k']:.3f}", flush=True)
    title = f"{name}: {len(case['reports'])} reports, k = {k} poisoned rows of {len(train)}"
    plot_pr_at_k(curves, k, RESULTS / f"trace_cases_{name}.png", title=title)
    return out


def main(run: Path) -> None:
    for part in ("pack/train.jsonl", "model", "cache/train/manifest.json"):
        if not (run / part).exists():
            sys.exit(f"{run / part} is missing: run 'bash benchmarks/trace_small.sh {run}' first (or symlink it)")
    (run / "cases").mkdir(exist_ok=True)
    train = load_rows(run / "pack" / "train.jsonl")
    k = sum(bool(r.is_poisoned) for r in train)
    model = load_model(str(run / "model"))
    model.model.eval()
    cases = build_cases(run, model)
    summary: dict[str, Any] = {
        "command": f"python benchmarks/trace_cases.py {run}",
        "setup": "synthetic small pack and model of benchmarks/trace_small.sh; k = number of poisoned rows; "
        "aggregation max over per-report z-scores (default); one run, one seed",
        "n_train": len(train),
        "k": k,
        "reworded_overlap": reworded_overlap(train),
        "n_clean_counterparts": int(clean_counterparts(train).sum()),
        "cases": {},
    }
    for name, case in cases.items():
        summary["cases"][name] = run_case(run, name, case, model, train, k)
        (RESULTS / "trace_cases.json").write_text(json.dumps(summary, indent=1) + "\n")
    for name, c in summary["cases"].items():
        row = "  ".join(f"{r} {v['roc_auc']:.3f}/{v['precision_at_k']:.2f}" for r, v in c["rankers"].items())
        print(f"{name:18s} {row}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/trace_small"))
