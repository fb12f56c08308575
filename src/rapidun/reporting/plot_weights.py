"""Histograms of the per-sample forget and retain weights of every method that wrote them.

Weights come from ``<weights_dir>/forget_weights.jsonl`` and ``retain_weights.jsonl`` (rows ``{"index", "weight"}``)
of the lowest seed of each (method, label) group. RapidUn's weights are bounded and mean-one (paper Sec. 3,
docs/method.md section 3), so a dashed line marks 1.0.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from rapidun.reporting.figure_style import GREY, PlotResult, Style, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import method_rank

log = logging.getLogger(__name__)
SIDES = ("forget", "retain")
MAX_GROUPS = 12


def read_weights(path: Path) -> list[float]:
    """The ``weight`` column of a weights JSONL file; ValueError names the file and line of a bad row."""
    weights = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                w = json.loads(line)["weight"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: expected a JSON object with a 'weight' ({exc})") from exc
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise ValueError(f"{path}:{lineno}: 'weight' is not a number")
            weights.append(float(w))
    return weights


def weight_histograms(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    title = "Per-sample weights"
    caption = (
        "Distribution of the per-sample weights each method trained with (forget set left, retain set right; "
        "lowest seed of each method). Dashed line: weight 1 (uniform weighting)."
    )
    chosen: dict[str, RunRecord] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        if r.weights_dir is not None and r.name not in chosen:
            chosen[r.name] = r
    notes: list[str] = []
    data: list[tuple[RunRecord, dict[str, list[float]]]] = []
    for run in chosen.values():
        assert run.weights_dir is not None
        sides: dict[str, list[float]] = {}
        for side in SIDES:
            path = run.weights_dir / f"{side}_weights.jsonl"
            try:
                sides[side] = read_weights(path)
            except FileNotFoundError:
                notes.append(f"{run.name}: {path.name} not found in {run.weights_dir}")
            except (OSError, ValueError) as exc:
                log.warning("skipping weights of %s: %s", run.name, exc)
                notes.append(f"{run.name}: {exc}")
        if sides:
            data.append((run, sides))
    if len(data) > MAX_GROUPS:
        notes.append(f"only the first {MAX_GROUPS} of {len(data)} methods are shown")
        data = data[:MAX_GROUPS]
    note = "; ".join(notes) or None
    if not data:
        why = note or "no run of this dataset records a weights_dir"
        return PlotResult(name, title, caption, None, f"skipped: {why}")
    with figure(9.0, 1.0 + 1.9 * len(data)) as fig:
        axes = fig.subplots(len(data), 2, squeeze=False)
        for row, (run, sides) in enumerate(data):
            for col, side in enumerate(SIDES):
                ax = axes[row][col]
                ws = [w for w in sides.get(side, []) if math.isfinite(w)]
                if not ws:
                    ax.text(0.5, 0.5, f"no {side} weights", ha="center", va="center", transform=ax.transAxes)
                    ax.set_axis_off()
                    continue
                lo, hi = min(ws), max(ws)
                constant = hi - lo < 1e-9
                # All weights equal (e.g. uniform): one narrow bar centred on the value, with room either side.
                ax.hist(
                    ws,
                    bins=1 if constant else 40,
                    range=(lo - 0.02, hi + 0.02) if constant else (lo, hi),
                    color=style.colors.get(run.name, GREY),
                    edgecolor="white",
                    linewidth=0.3,
                    hatch=style.hatches.get(run.name, ""),
                )
                if constant:
                    ax.set_xlim(lo - 0.5, lo + 0.5)
                ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
                mean = math.fsum(ws) / len(ws)
                ax.text(
                    0.99,
                    0.95,
                    f"n={len(ws)}\nmean={mean:.3g}\nmin={lo:.3g}, max={hi:.3g}",
                    ha="right",
                    va="top",
                    transform=ax.transAxes,
                    fontsize=7.5,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
                )
                ax.set_title(f"{run.name} (seed {run.seed}): {side} weights")
                ax.set_ylabel("rows")
                if row == len(data) - 1:
                    ax.set_xlabel("weight (dimensionless; 1 = uniform)")
        fig.suptitle("Per-sample weights: forget (left) and retain (right)", fontsize=11)
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)
