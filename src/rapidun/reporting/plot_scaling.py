"""The speed-up over retraining as the training set grows, drawn from ``speedup_curve.json``.

``benchmarks/speedup_curve.py`` measures, per training-set size, the retraining seconds and the RapidUn unlearning
seconds (influence + weights + unlearning) in one process, fits retrain seconds = a + b * rows and extrapolates the
speed-up to the paper's dataset sizes (issue 12 item 6). This module only draws what that file holds: measured
points as filled markers, the fitted / extrapolated values as lines (dashed beyond the largest measured size), and
sizes whose retraining was stopped early (projected from seconds per step) as open circles, so a reader can tell
measurement from projection and extrapolation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_bytes
from rapidun.errors import RapidunError
from rapidun.reporting.figure_style import GREY, PALETTE, PlotResult, figure, to_png

RETRAIN_COLOR, UNLEARN_COLOR = PALETTE[1], PALETTE[0]
REQUIRED = ("sizes", "retrain_fit", "unlearn_fit", "extrapolated")


def load_speedup_curve(path: str | Path) -> dict[str, Any]:
    """The summary written by ``benchmarks/speedup_curve.py``; a one-line error names a missing or partial file."""
    p = Path(path)
    if not p.is_file():
        raise RapidunError(f"speed-up curve '{p}' does not exist; run python benchmarks/speedup_curve.py first")
    data = json.loads(p.read_text(encoding="utf-8"))
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise RapidunError(
            f"speed-up curve '{p}' lacks {', '.join(missing)} (fewer than two sizes measured?); "
            "rerun python benchmarks/speedup_curve.py once at least two sizes are finished"
        )
    return dict(data)


def _line(fit: Mapping[str, float], xs: np.ndarray) -> np.ndarray:
    return np.asarray(fit["a_s"] + fit["b_s_per_row"] * xs, dtype=float)


def speedup_curve(summary: Mapping[str, Any], name: str = "speedup_curve") -> PlotResult:
    """Two panels: seconds vs training rows (retraining and unlearning, measured and fitted) and the speed-up
    retrain / unlearn vs training rows, with the extrapolated sizes (e.g. Dolly 15k, Alpaca 57k) marked."""
    title = "Speed-up over retraining vs training-set size"
    sizes = sorted(summary["sizes"], key=lambda s: s["rows"])
    extra = summary["extrapolated"]
    rows = np.array([s["rows"] for s in sizes], dtype=float)
    largest = max([*rows, *(e["rows"] for e in extra.values())])
    xs = np.linspace(0.0, largest * 1.05, 200)
    retrain_fit, unlearn_mean = summary["retrain_fit"], float(summary["unlearn_fit"]["mean_s"])
    fitted_retrain = _line(retrain_fit, xs)
    caption = (
        f"Markers: measured in one process per size ({', '.join(f'{int(r):,}' for r in rows)} training rows). "
        f"Lines: retrain seconds = {retrain_fit['a_s']:.1f} + {retrain_fit['b_s_per_row']:.4f} x rows "
        f"(least squares) and the mean unlearning cost {unlearn_mean:.1f} s; dashed beyond the largest measured "
        f"size. Green: the same from CPU seconds (when recorded). "
        f"Assumptions: {summary.get('assumptions', 'see speedup_curve.json')}."
    )
    with figure(10.0, 4.2) as fig:
        left, right = fig.subplots(1, 2)
        measured = xs <= rows.max()
        for part, style in ((measured, "-"), (~measured, "--")):
            left.plot(xs[part], fitted_retrain[part], style, color=RETRAIN_COLOR)
            left.plot(xs[part], np.full(part.sum(), unlearn_mean), style, color=UNLEARN_COLOR)
            right.plot(xs[part], fitted_retrain[part] / unlearn_mean, style, color=GREY)
        left.plot(rows, [s["retrain_s"] for s in sizes], "o", color=RETRAIN_COLOR, label="retraining (clean rows)")
        left.plot(rows, [s["unlearn_s"] for s in sizes], "s", color=UNLEARN_COLOR, label="rapidun unlearning")
        partial = summary.get("partial_sizes", [])
        if partial:  # retraining stopped early: seconds per step x the recipe's steps, drawn open
            prows = [s["rows"] for s in partial]
            left.plot(prows, [s["projected"]["retrain_s"] for s in partial], "o", mfc="white", color=RETRAIN_COLOR,
                      label="retraining, projected from its first steps")  # fmt: skip
            left.plot(prows, [s["unlearn_s"] for s in partial], "s", color=UNLEARN_COLOR)
            right.plot(prows, [s["projected"]["speedup"] for s in partial], "o", mfc="white", color="black",
                       label="wall-clock, projected retraining")  # fmt: skip
        left.set(xlabel="training rows", ylabel="wall-clock seconds", title="Cost")
        left.legend(loc="upper left")
        right.plot(rows, [s["speedup"] for s in sizes], "o", color="black", label="wall-clock")
        _extrapolated(right, extra, "black")
        cpu = summary.get("cpu_time")
        if cpu is not None:  # CPU seconds: the same ratio, insensitive to other jobs on a shared machine
            cpu_fit = _line(cpu["retrain_fit"], xs) / float(cpu["unlearn_fit"]["mean_s"])
            right.plot(xs[measured], cpu_fit[measured], "-", xs[~measured], cpu_fit[~measured], "--", color=PALETTE[2])
            right.plot(rows, [s["speedup_cpu"] for s in sizes], "^", color=PALETTE[2], label="CPU seconds")
            _extrapolated(right, cpu["extrapolated"], PALETTE[2], below=True)
        right.set(xlabel="training rows", ylabel="retrain / unlearn", title="Speed-up (open: extrapolated)")
        right.set_ylim(bottom=0)
        right.legend(loc="upper left")
        png = to_png(fig)
    return PlotResult(name, title, caption, png)


def _extrapolated(ax: Any, extra: Mapping[str, Any], color: str, below: bool = False) -> None:
    """Open diamonds at the extrapolated sizes, labelled with their speed-up (above-left, or below-right)."""
    for key, e in extra.items():
        ax.plot([e["rows"]], [e["speedup"]], "D", mfc="white", color=color)
        ax.annotate(f"{key}: {e['speedup']:.0f}x", (e["rows"], e["speedup"]), textcoords="offset points",
                    xytext=(8, -12) if below else (-8, 8), ha="left" if below else "right", color=color)  # fmt: skip


def save_speedup_curve(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Draw :func:`speedup_curve` and write it to ``path`` (a PNG); returns the path."""
    result = speedup_curve(summary, Path(path).stem)
    assert result.png is not None  # speedup_curve always draws
    atomic_write_bytes(Path(path), result.png)
    return Path(path)
