"""The figures of a facts dataset: forget quality against model utility, and the membership-inference ROC curves.

Forget quality is a KS p-value against the retrained reference (its own record has none: a sample tested against
itself gives p = 1, where it is drawn). The ROC curves are recomputed from each cell's ``facts_generations.jsonl``
(per-row Min-K%++ scores, higher = more member-like) exactly as :func:`rapidun.evaluation.facts.run_facts_eval`
computes the recorded AUC: forget rows are the members, holdout rows the non-members, NaN scores left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.lines import Line2D

from rapidun.evaluation.facts_stats import roc_auc, roc_points
from rapidun.reporting.cells import first_seed_runs, read_generations
from rapidun.reporting.facts_sections import FQ_THRESHOLD, display_name, metric
from rapidun.reporting.figure_style import GREY, PlotResult, Style, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import BACKDOORED
from rapidun.unlearning.registry import is_reference

ATTACK = "min_k_plus_plus"
MEMBERS, NON_MEMBERS = "forget", "holdout"


def _reference(runs: Sequence[RunRecord]) -> RunRecord | None:
    """The run every forget quality was measured against (named in the records' ``metrics.reference``)."""
    named = next((r.metrics["reference"] for r in runs if isinstance(r.metrics.get("reference"), dict)), None)
    if named is None:
        return None
    return next((r for r in runs if r.method == named.get("method") and r.seed == named.get("seed")), None)


def _marker(r: RunRecord, ref: RunRecord | None, style: Style) -> tuple[str, float]:
    if r.method == BACKDOORED:
        return "X", 90.0
    if r is ref:
        return "*", 160.0
    return style.markers.get(r.name, ("o", "^"))[0], 40.0


def _points(runs: Sequence[RunRecord], ref: RunRecord | None) -> list[tuple[RunRecord, float, float]]:
    """(run, retain accuracy in %, forget quality) of every run that has both; the reference at p = 1."""
    out = []
    for r in runs:
        fq = 1.0 if r is ref else metric(r, "forget_quality")
        acc = metric(r, "retain", "accuracy")
        if fq is not None and acc is not None and math.isfinite(fq):
            out.append((r, 100.0 * acc, fq))
    return out


def forget_quality_vs_utility(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    """Forget quality (log y) against retain accuracy (x), one marker per (method, seed)."""
    title = "Forget quality vs model utility"
    ref = _reference(runs)
    ref_text = f"seed {ref.seed}" if ref else "none recorded"
    caption = (
        "Forget quality (KS p-value of the forget-set truth ratios against the retrained reference; log scale, "
        "higher = closer to retraining) against retain accuracy (utility kept), one marker per method and seed. "
        f"Dashed: p = {FQ_THRESHOLD}, TOFU's threshold for indistinguishable from retraining. Star: the retrained "
        f"reference ({ref_text}), drawn at p = 1 (a sample against itself); X: the trained model before unlearning. "
        "Upper right is better."
    )
    points = _points(runs, ref)
    if not points:
        return PlotResult(name, title, caption, None, "skipped: no run has a forget quality and a retain accuracy")
    positive = [fq for _, _, fq in points if fq > 0]
    floor = min(positive) / 10 if positive else 1e-12  # p underflowing to 0 is drawn at the bottom edge
    note = "runs with p = 0 (underflow) are drawn at the bottom edge" if len(positive) < len(points) else None
    dropped = len(runs) - len(points)
    if dropped:
        note = "; ".join(filter(None, [note, f"{dropped} run(s) without forget quality or retain accuracy not drawn"]))
    with figure(7.5, 4.5) as fig:
        ax = fig.subplots()
        handles: dict[str, Any] = {}
        for r, acc, fq in points:
            marker, size = _marker(r, ref, style)
            color = style.colors.get(r.name, GREY)
            ax.scatter([acc], [max(fq, floor)], marker=marker, s=size, color=color, edgecolor="black", linewidth=0.4)
            label = display_name(r)
            handles.setdefault(label, Line2D([], [], marker=marker, color=color, linestyle="", markersize=7))
        ax.axhline(FQ_THRESHOLD, color=GREY, linestyle="--", linewidth=1.0)
        handles[f"p = {FQ_THRESHOLD} (TOFU)"] = Line2D([], [], color=GREY, linestyle="--")
        ax.set_yscale("log")
        ax.set_xlim(-2, 102)
        ax.set_xlabel("retain accuracy (%), higher is better")
        ax.set_ylabel("forget quality (KS p), higher is better")
        ax.set_title(title)
        ax.legend(list(handles.values()), list(handles), loc="center left", bbox_to_anchor=(1.01, 0.5))
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)


def mia_roc(rows: Sequence[dict[str, Any]], attack: str = ATTACK) -> tuple[list[tuple[float, float]], float] | None:
    """The ROC points and AUC of one cell's membership score (``mia_<attack>`` of its generation records), forget
    rows against holdout rows; None when either side has no finite score."""
    key = f"mia_{attack}"
    scores: dict[str, list[float]] = {MEMBERS: [], NON_MEMBERS: []}
    for row in rows:
        value = row.get(key)
        if row.get("split") in scores and isinstance(value, (int, float)) and value == value:
            scores[row["split"]].append(float(value))
    members, others = scores[MEMBERS], scores[NON_MEMBERS]
    if not members or not others:
        return None
    return roc_points(members, others), roc_auc(members, others)


def _linestyle(r: RunRecord, style: Style) -> Any:
    """Dashed for the trained model; past the palette's eight colours a reused colour is dash-dotted."""
    if r.method == BACKDOORED:
        return "--"
    return "-" if not style.hatches.get(r.name) else (0, (4, 1.5, 1, 1.5))


def mia_roc_figure(run_dir: Path, runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    """The Min-K%++ ROC curve of the lowest seed of every method, the AUC in the legend, with the chance diagonal."""
    title = "Membership inference ROC (Min-K%++)"
    chosen = first_seed_runs(runs)
    seeds = sorted({r.seed for r in chosen.values() if r.method != BACKDOORED})
    caption = (
        "ROC curves of the Min-K%++ membership score: forget rows (members, trained on before unlearning) against "
        "holdout rows (never trained on), for the lowest seed of each method (seed "
        f"{', '.join(map(str, seeds)) or 'n/a'}). Diagonal: chance (AUC 0.5). The retrained reference never saw the "
        "forget rows: its curve is the target. AUC in the legend, recomputed from each cell's facts_generations.jsonl."
    )
    curves = []
    missing = []
    for r in chosen.values():
        roc = mia_roc(read_generations(run_dir, r) or [])
        if roc is None:
            missing.append(display_name(r))
        else:
            curves.append((r, *roc))
    note = f"no per-row scores (facts_generations.jsonl) for: {', '.join(missing)}" if missing else None
    if not curves:
        return PlotResult(name, title, caption, None, f"skipped: {note}")
    with figure(9.0, 5.0) as fig:
        ax = fig.subplots()
        for r, points, auc in curves:
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                color=style.colors.get(r.name, GREY),
                linewidth=2.2 if r.method == BACKDOORED or is_reference(r.method) else 1.3,
                linestyle=_linestyle(r, style),
                label=f"{display_name(r)} (AUC {auc:.3f})",
            )
        ax.plot([0, 1], [0, 1], color=GREY, linestyle=":", linewidth=1.0, label="chance (AUC 0.5)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("false-positive rate (holdout rows called members)")
        ax.set_ylabel("true-positive rate (forget rows called members)")
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)
