"""Unlearning loss curves: the per-step training loss of every method's unlearning run (lowest seed), one panel per
method, read from each study cell's ``unlearn/run.json`` (``losses``: the objective of docs/method.md section 4 as
each method defines it, so the scales of two panels are not comparable and each panel has its own y axis).

With a batch of one row the per-step loss jumps between forget and retain rows; a running mean over
``window = max(1, steps // SMOOTH_FRACTION)`` steps is drawn over the raw curve to show the trend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rapidun.reporting.cells import first_seed_runs, read_unlearn_run, step_losses
from rapidun.reporting.figure_style import PlotResult, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import BACKDOORED

SMOOTH_FRACTION = 20
COLUMNS = 3
RAW, TREND = "#56B4E9", "#0072B2"


def running_mean(values: Sequence[float], window: int) -> list[float]:
    """Mean of the last ``window`` values at each step (fewer at the start); non-finite values are skipped."""
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1) : i + 1] if math.isfinite(v)]
        out.append(math.fsum(part) / len(part) if part else math.nan)
    return out


def loss_curves(run_dir: Path, runs: Sequence[RunRecord], name: str) -> PlotResult:
    title = "Unlearning loss curves"
    caption = (
        "Training loss per optimisation step of each method's unlearning run (lowest seed; light: per step, dark: "
        f"running mean over 1/{SMOOTH_FRACTION} of the steps). Each method optimises its own objective, so compare "
        "shapes (does it settle, does it diverge), not levels across panels."
    )
    curves, without = [], []
    for r in first_seed_runs(runs).values():
        run = read_unlearn_run(run_dir, r)
        losses = step_losses(run) if run else None
        if losses:
            curves.append((r, losses))
        elif r.method != BACKDOORED:
            without.append(r.name)
    note = f"no per-step losses recorded for: {', '.join(without)}" if without else None
    if not curves:
        why = "no run of this dataset has an unlearning run.json with per-step losses (a study cell's unlearn/)"
        return PlotResult(name, title, caption, None, f"skipped: {why}")
    n_rows = math.ceil(len(curves) / COLUMNS)
    n_cols = min(COLUMNS, len(curves))
    with figure(3.9 * n_cols, 0.5 + 2.3 * n_rows) as fig:
        axes = fig.subplots(n_rows, n_cols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(curves):
                ax.set_axis_off()
                continue
            r, losses = curves[k]
            steps = range(1, len(losses) + 1)
            ax.plot(steps, losses, color=RAW, linewidth=0.6, alpha=0.7)
            ax.plot(steps, running_mean(losses, max(1, len(losses) // SMOOTH_FRACTION)), color=TREND, linewidth=1.6)
            ax.set_title(f"{r.name} (seed {r.seed})\nfinal {losses[-1]:.3g} after {len(losses)} steps", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("loss")
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)
