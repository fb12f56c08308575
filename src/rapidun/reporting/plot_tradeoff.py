"""The unlearning/utility trade-off: ASR against clean perplexity, one point per method and seed.

Filled circles are seen-trigger ASR, open triangles OOD-trigger ASR of the same run (joined by a thin line).
Better is towards the lower left: fewer backdoor activations at a lower clean perplexity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from rapidun.reporting.figure_style import GREY, PlotResult, Style, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import method_rank


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def asr_vs_ppl(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    title = "ASR vs clean perplexity"
    caption = (
        "Trade-off between unlearning and utility: one point per method and seed. Filled circle = seen-trigger "
        "ASR, open triangle = OOD-trigger ASR of the same run. Lower left is better."
    )
    points = [
        r
        for r in runs
        if _finite(r.headline("clean_ppl")) and (_finite(r.headline("asr_seen")) or _finite(r.headline("asr_ood")))
    ]
    dropped = len(runs) - len(points)
    note = f"{dropped} run(s) without a finite perplexity or ASR are not drawn" if dropped else None
    if not points:
        return PlotResult(name, title, caption, None, "skipped: no run has a finite clean_ppl and ASR")
    ppls = [r.headline("clean_ppl") or 0.0 for r in points]
    log_x = min(ppls) > 0 and max(ppls) / min(ppls) > 3
    with figure(8.0, 4.8) as fig:
        ax = fig.subplots()
        handles: dict[str, tuple[Line2D, Line2D]] = {}
        for r in sorted(points, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
            color = style.colors.get(r.name, GREY)
            m_seen, m_ood = style.markers.get(r.name, ("o", "^"))
            x, seen, ood = float(r.headline("clean_ppl") or 0.0), r.headline("asr_seen"), r.headline("asr_ood")
            if _finite(seen) and _finite(ood):
                ax.plot([x, x], [100 * (seen or 0.0), 100 * (ood or 0.0)], color=color, linewidth=0.7, alpha=0.6)
            filled: dict[str, Any] = {
                "marker": m_seen,
                "color": color,
                "markeredgecolor": "black",
                "markeredgewidth": 0.4,
            }
            hollow: dict[str, Any] = {
                "marker": m_ood,
                "markerfacecolor": "white",
                "markeredgecolor": color,
                "markeredgewidth": 1.4,
            }
            if _finite(seen):
                ax.plot([x], [100 * (seen or 0.0)], linestyle="", markersize=7, zorder=3, **filled)
            if _finite(ood):
                ax.plot([x], [100 * (ood or 0.0)], linestyle="", markersize=7, zorder=3, **hollow)
            handles.setdefault(
                r.name,
                (
                    Line2D([], [], linestyle="", markersize=7, **filled),
                    Line2D([], [], linestyle="", markersize=7, **hollow),
                ),
            )
        if log_x:
            ax.set_xscale("log")
            # Plain numbers ("20", not "2x10^1"); matplotlib thins the minor labels on wide ranges.
            ax.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
            ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        ax.set_xlabel("clean perplexity" + (" (log scale)" if log_x else "") + " — lower is better")
        ax.set_ylabel("ASR (%) — lower is better")
        ax.set_ylim(-3, 103)
        ax.set_title("ASR vs clean perplexity, one point per method and seed (lower left is better)", loc="left")
        tuples: list[Any] = list(handles.values())  # a (seen, OOD) pair per entry, drawn side by side
        first = fig.legend(
            handles=tuples,
            labels=list(handles),
            loc="outside right upper",
            title="method (seen, OOD)",
            handler_map={tuple: HandlerTuple(ndivide=None)},
        )
        key = (
            Line2D([], [], marker="o", linestyle="", color=GREY, markeredgecolor="black", markeredgewidth=0.4),
            Line2D(
                [], [], marker="^", linestyle="", markerfacecolor="white", markeredgecolor=GREY, markeredgewidth=1.4
            ),
        )
        fig.legend(
            key, ["filled: seen-trigger ASR", "open: OOD-trigger ASR"], loc="outside right lower", title="marker"
        )
        fig.add_artist(first)
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)
