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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_bytes
from rapidun.errors import RapidunError
from rapidun.reporting.figure_style import PALETTE, PlotResult, figure, to_png

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


# The two measures a size records: (retrain key, unlearn key, speed-up key); the fit of each is in _block.
MEASURES = {"wall": ("retrain_s", "unlearn_s", "speedup"), "cpu": ("retrain_cpu_s", "unlearn_cpu_s", "speedup_cpu")}
SPEEDUP_STYLE = {"wall": ("black", "o", "wall-clock"), "cpu": (PALETTE[2], "^", "CPU seconds")}


def _line(fit: Mapping[str, float], xs: np.ndarray) -> np.ndarray:
    return np.asarray(fit["a_s"] + fit["b_s_per_row"] * xs, dtype=float)


def _block(summary: Mapping[str, Any], measure: str) -> Mapping[str, Any]:
    """The fit and extrapolation of ``measure``: the top level for wall-clock, ``cpu_time`` for CPU seconds."""
    return summary if measure == "wall" else summary["cpu_time"]


def _cost_panel(ax: Any, summary: Mapping[str, Any], measure: str, xs: np.ndarray, last: float) -> None:
    """Retraining and unlearning seconds per size (filled: measured, open: projected) with the fit and the mean."""
    retrain, unlearn, _ = MEASURES[measure]
    block, sizes, partial = _block(summary, measure), summary["sizes"], summary.get("partial_sizes", [])
    mean = float(block["unlearn_fit"]["mean_s"])
    for part, style in ((xs <= last, "-"), (xs > last, "--")):
        ax.plot(xs[part], _line(block["retrain_fit"], xs[part]), style, color=RETRAIN_COLOR)
        ax.plot(xs[part], np.full(int(part.sum()), mean), style, color=UNLEARN_COLOR)
    ax.plot([s["rows"] for s in sizes], [s[retrain] for s in sizes], "o", color=RETRAIN_COLOR, label="retraining")
    ax.plot([s["rows"] for s in sizes + partial], [s[unlearn] for s in sizes + partial], "s", color=UNLEARN_COLOR,
            label="rapidun unlearning")  # fmt: skip
    if partial:  # retraining stopped early: seconds per step x the recipe's steps
        ax.plot([s["rows"] for s in partial], [s["projected"][retrain] for s in partial], "o", mfc="white",
                color=RETRAIN_COLOR, label="retraining, projected from its first steps")  # fmt: skip
    ax.set(xlabel="training rows", ylabel="CPU seconds" if measure == "cpu" else "wall-clock seconds", title="Cost")
    ax.legend(loc="upper left")


def _speedup_series(ax: Any, summary: Mapping[str, Any], measure: str, xs: np.ndarray, last: float) -> None:
    """Measured (filled), projected (open circles) and extrapolated (open diamonds) speed-ups of one measure."""
    retrain, unlearn, speedup = MEASURES[measure]
    block, (color, marker, label) = _block(summary, measure), SPEEDUP_STYLE[measure]
    curve = _line(block["retrain_fit"], xs) / float(block["unlearn_fit"]["mean_s"])
    ax.plot(xs[xs <= last], curve[xs <= last], "-", xs[xs > last], curve[xs > last], "--", color=color)
    ax.plot([s["rows"] for s in summary["sizes"]], [s[speedup] for s in summary["sizes"]], marker, color=color,
            label=label)  # fmt: skip
    partial = summary.get("partial_sizes", [])
    ax.plot([s["rows"] for s in partial], [s["projected"][speedup] for s in partial], "o", mfc="white", color=color)
    below = measure == "cpu"  # the two series' labels above and below their diamonds
    for key, e in block["extrapolated"].items():
        ax.plot([e["rows"]], [e["speedup"]], "D", mfc="white", color=color)
        ax.annotate(f"{key}: {e['speedup']:.0f}x", (e["rows"], e["speedup"]), textcoords="offset points",
                    xytext=(-8, -14) if below else (-8, 8), ha="right", color=color)  # fmt: skip


def speedup_curve(
    summary: Mapping[str, Any], name: str = "speedup_curve", measures: Sequence[str] | None = None
) -> PlotResult:
    """Two panels: seconds vs training rows (retraining and unlearning, measured, projected and fitted; CPU seconds
    when the sizes recorded them, else wall-clock) and the speed-up retrain / unlearn of each measure, with the
    extrapolated sizes (e.g. Dolly 15k, Alpaca 57k) marked. ``measures``: ``wall`` and / or ``cpu`` (default: both
    that the summary holds); on a machine shared with other jobs only CPU seconds are comparable across sizes."""
    title = "Speed-up over retraining vs training-set size"
    measures = list(measures or (["wall", "cpu"] if "cpu_time" in summary else ["wall"]))
    unknown = [m for m in measures if m not in MEASURES or (m == "cpu" and "cpu_time" not in summary)]
    if unknown:
        raise RapidunError(f"speed-up curve: cannot draw {', '.join(unknown)}; choose from wall, cpu (when recorded)")
    rows = [s["rows"] for s in summary["sizes"]]
    ends = [*rows, *(s["rows"] for s in summary.get("partial_sizes", []))]
    xs = np.linspace(0.0, 1.05 * max([*ends, *(e["rows"] for e in summary["extrapolated"].values())]), 200)
    cost = measures[-1]
    fit = _block(summary, cost)["retrain_fit"]
    caption = (
        f"Filled markers: measured in one process per size ({', '.join(f'{r:,}' for r in rows)} training rows); "
        "open circles: retraining stopped early, projected from its seconds per step; open diamonds: "
        f"extrapolated. Cost panel in {SPEEDUP_STYLE[cost][2]}: retrain = {fit['a_s']:.1f} + "
        f"{fit['b_s_per_row']:.4f} x rows (least squares on the measured sizes), unlearning at its mean; dashed "
        f"beyond the largest measured size. Assumptions: {summary.get('assumptions', 'see speedup_curve.json')}."
    )
    with figure(10.0, 4.2) as fig:
        left, right = fig.subplots(1, 2)
        _cost_panel(left, summary, cost, xs, max(rows))
        for measure in measures:
            _speedup_series(right, summary, measure, xs, max(rows))
        right.set(xlabel="training rows", ylabel="retrain / unlearn", title="Speed-up")
        right.set_ylim(bottom=0)
        right.legend(loc="upper left")
        png = to_png(fig)
    return PlotResult(name, title, caption, png)


def save_speedup_curve(summary: Mapping[str, Any], path: str | Path, measures: Sequence[str] | None = None) -> Path:
    """Draw :func:`speedup_curve` and write it to ``path`` (a PNG); returns the path."""
    result = speedup_curve(summary, Path(path).stem, measures)
    assert result.png is not None  # speedup_curve always draws
    atomic_write_bytes(Path(path), result.png)
    return Path(path)
