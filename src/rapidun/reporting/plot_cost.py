"""Wall-clock per stage (influence, weights, training, evaluation), stacked per method, next to retraining.

Bars are means over seeds of ``timings.<stage>_s``; the label above a bar is the mean ``timings.total_s`` and the
mean ``speedup_vs_retrain`` as written by the run (both measured in the same run, never estimated).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes

from rapidun.reporting.figure_style import PlotResult, Style, figure, to_png
from rapidun.reporting.results import STAGES, RunRecord
from rapidun.reporting.tables import BACKDOORED, method_rank, summarize
from rapidun.unlearning.registry import is_reference

# One colour per stage (Okabe-Ito), independent of the method colours.
STAGE_COLORS = {"influence_s": "#0072B2", "weights_s": "#E69F00", "training_s": "#009E73", "evaluation_s": "#CC79A7"}
STAGE_HATCH = {"influence_s": "", "weights_s": "..", "training_s": "", "evaluation_s": "//"}
EXCLUDED = (BACKDOORED,)  # the poisoned starting point is not an unlearning method; its cost is not comparable


def stage_timings(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    title = "Stage timings"
    caption = (
        "Wall-clock seconds per stage, stacked, mean over seeds; retraining first for reference. Above each bar: "
        "the mean total wall-clock and the speedup over retraining recorded by the run. The backdoored model "
        "(the starting point) is not shown."
    )
    groups: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        if r.method not in EXCLUDED and any(s in r.timings for s in (*STAGES, "total_s")):
            groups.setdefault(r.name, []).append(r)
    if not groups:
        return PlotResult(name, title, caption, None, "skipped: no unlearning run of this dataset records timings")
    names = list(groups)
    note = None if any(is_reference(g[0].method) for g in groups.values()) else "no retraining run to compare with"
    means = {n: {s: summarize([r.timings.get(s) for r in groups[n]]).mean or 0.0 for s in STAGES} for n in names}
    others = [n for n in names if not is_reference(groups[n][0].method)]
    retrain_top = max((sum(means[n].values()) for n in names if n not in others), default=0.0)
    # When retraining dwarfs the methods, a second panel without it shows their stage split legibly.
    zoom = bool(others) and retrain_top > 5 * max(sum(means[n].values()) for n in others)
    panels = [names, others] if zoom else [names]
    base_width = max(6.5, 0.9 * len(names) + 3.0)
    # Few bars: panels side by side; many: stacked, so the figure keeps a readable aspect ratio.
    side_by_side = zoom and len(names) <= 5
    width = base_width + (0.7 * len(others) + 1.5 if side_by_side else 0.0)
    with figure(width, 4.6 * (2 if zoom and not side_by_side else 1)) as fig:
        if side_by_side or not zoom:
            axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=[len(p) + 1 for p in panels])[0]
        else:
            axes = fig.subplots(2, 1, squeeze=False)[:, 0]
        for ax, shown in zip(axes, panels, strict=True):
            _stacked(ax, shown, means, groups)
        axes[0].set_title("Wall-clock per stage, next to retraining")
        if zoom:
            axes[1].set_title("Zoom: the same without retraining")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", title="stage")
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)


def _stacked(
    ax: Axes, names: list[str], means: dict[str, dict[str, float]], groups: dict[str, list[RunRecord]]
) -> None:
    bottoms = [0.0] * len(names)
    for stage in STAGES:
        heights = [means[n][stage] for n in names]
        ax.bar(
            range(len(names)),
            heights,
            bottom=bottoms,
            color=STAGE_COLORS[stage],
            hatch=STAGE_HATCH[stage],
            edgecolor="white",
            linewidth=0.3,
            label=stage.removesuffix("_s"),
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    totals = [summarize([r.timings.get("total_s") for r in groups[n]]).mean for n in names]
    top = max([*bottoms, *(t for t in totals if t is not None and math.isfinite(t))], default=0.0) or 1.0
    for i, n in enumerate(names):
        total, speed = totals[i], summarize([r.speedup_vs_retrain for r in groups[n]]).mean
        text = f"{total:,.1f} s" if total is not None and math.isfinite(total) else "total n/a"
        if speed is not None and not is_reference(groups[n][0].method):
            text += f"\n{speed:,.1f}× faster" if speed >= 1 else f"\n{speed:.2f}× (slower)"
        height = max(bottoms[i], total if total is not None and math.isfinite(total) else 0.0)
        ax.text(i, height + 0.02 * top, text, ha="center", va="bottom", fontsize=7.5)
    tilt = len(names) > 5
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20 if tilt else 0, ha="right" if tilt else "center")
    ax.set_ylim(0, top * 1.22)
    ax.set_ylabel("wall-clock (s) — lower is better")
    ax.grid(axis="x", visible=False)
