"""The unlearning/utility trade-off: ASR against clean perplexity, one point per method and seed.

Filled circles are seen-trigger ASR, open triangles OOD-trigger ASR of the same run (joined by a thin line).
Better is towards the lower left: fewer backdoor activations at a lower clean perplexity.

A collapsed model (e.g. gradient ascent at perplexity 1e10) would stretch the axis until every useful run sits in one
column, so runs above ``OFF_SCALE`` x the reference perplexity (the backdoored model's, else the median) are drawn
in a separate column at the right edge with their perplexity written next to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D

from rapidun.reporting.figure_style import GREY, PlotResult, Style, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import BACKDOORED, method_rank

OFF_SCALE = 3.0  # perplexity above this multiple of the reference is drawn off scale


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def off_scale_limit(runs: Sequence[RunRecord]) -> float:
    """The perplexity above which a run is drawn in the off-scale column: ``OFF_SCALE`` x the backdoored model's
    perplexity (mean over its runs), or x the median of all runs when there is no backdoored run."""
    ppls = [float(r.headline("clean_ppl") or 0.0) for r in runs]
    ref = [p for r, p in zip(runs, ppls, strict=True) if r.method == BACKDOORED]
    base = sum(ref) / len(ref) if ref else sorted(ppls)[len(ppls) // 2]
    return OFF_SCALE * base


def asr_vs_ppl(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    title = "ASR vs clean perplexity"
    caption = (
        "Trade-off between unlearning and utility: one point per method and seed. Filled circle = seen-trigger "
        "ASR, open triangle = OOD-trigger ASR of the same run. Lower left is better. Runs whose perplexity exceeds "
        f"{OFF_SCALE:g}x the backdoored model's (collapsed models) sit in the off-scale column at the right, "
        "labelled with their perplexity."
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
    limit = off_scale_limit(points)
    inside = [float(r.headline("clean_ppl") or 0.0) for r in points if (r.headline("clean_ppl") or 0.0) <= limit]
    lo, hi = (min(inside), max(inside)) if inside else (limit / OFF_SCALE, limit)
    pad = max(hi - lo, 0.05 * hi) * 0.04
    edge = hi + 5 * pad  # x of the off-scale column (labels to its right)
    outside = [r for r in points if (r.headline("clean_ppl") or 0.0) > limit]
    with figure(8.0, 4.8) as fig:
        ax = fig.subplots()
        handles: dict[str, tuple[Line2D, Line2D]] = {}
        off: dict[str, list[tuple[float, float]]] = {}  # name -> (ppl, ASR %) of its off-scale runs
        for r in sorted(points, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
            ppl, seen, ood = float(r.headline("clean_ppl") or 0.0), r.headline("asr_seen"), r.headline("asr_ood")
            if ppl > limit:
                off.setdefault(r.name, []).append((ppl, 100 * ((seen if _finite(seen) else ood) or 0.0)))
            pair = _draw_run(ax, r, style, ppl if ppl <= limit else edge)
            handles.setdefault(r.name, pair)
        if outside:
            _off_scale_column(ax, off, (lo, hi, pad, edge), limit)
        ax.set_xlabel("clean perplexity — lower is better")
        ax.set_ylabel("ASR (%) — lower is better")
        ax.set_ylim(-3, 103)
        ax.set_title("ASR vs clean perplexity, one point per method and seed (lower left is better)", loc="left")
        _legends(fig, handles)
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)


def _draw_run(ax: Any, r: RunRecord, style: Style, x: float) -> tuple[Line2D, Line2D]:
    """One run at perplexity position ``x``: a filled marker at its seen-trigger ASR, an open one at its OOD ASR,
    joined by a thin line; returns the (seen, OOD) legend handles of its method."""
    color = style.colors.get(r.name, GREY)
    m_seen, m_ood = style.markers.get(r.name, ("o", "^"))
    seen, ood = r.headline("asr_seen"), r.headline("asr_ood")
    if _finite(seen) and _finite(ood):
        ax.plot([x, x], [100 * (seen or 0.0), 100 * (ood or 0.0)], color=color, linewidth=0.7, alpha=0.6)
    filled: dict[str, Any] = {"marker": m_seen, "color": color, "markeredgecolor": "black", "markeredgewidth": 0.4}
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
    return Line2D([], [], linestyle="", markersize=7, **filled), Line2D([], [], linestyle="", markersize=7, **hollow)


def _off_scale_column(
    ax: Any, off: dict[str, list[tuple[float, float]]], span: tuple[float, float, float, float], limit: float
) -> None:
    """The column right of the axis for collapsed runs, each method labelled with its perplexity range.
    ``span`` = (lowest and highest in-scale perplexity, padding, x of the column)."""
    lo, hi, pad, edge = span
    ax.axvline(hi + 2.5 * pad, color=GREY, linestyle="--", linewidth=0.8)
    placed: list[float] = []
    for who, pts in sorted(off.items(), key=lambda kv: min(a for _, a in kv[1])):
        y = sum(a for _, a in pts) / len(pts)
        y_text = max([y, *[p + 9 for p in placed]])  # stack the labels of methods at similar ASR
        placed.append(y_text)
        ppl_lo, ppl_hi = min(p for p, _ in pts), max(p for p, _ in pts)
        text = f"{ppl_lo:.2g}" if ppl_lo == ppl_hi else f"{ppl_lo:.2g}-{ppl_hi:.2g}"
        ax.annotate(f"{who}\nPPL {text}", (edge, y), (edge + 0.8 * pad, y_text + 2), fontsize=7, color=GREY)
    inner = [t for t in ax.get_xticks() if lo - pad <= t <= hi + pad]
    ax.set_xticks([*inner, edge], [f"{t:g}" for t in inner] + [f"off scale\n> {limit:.3g}"])
    ax.set_xlim(lo - pad, edge + 8 * pad)


def _legends(fig: Any, handles: dict[str, tuple[Line2D, Line2D]]) -> None:
    """The method legend (a (seen, OOD) pair per entry, drawn side by side) and the marker key."""
    tuples: list[Any] = list(handles.values())
    first = fig.legend(
        handles=tuples,
        labels=list(handles),
        loc="outside right upper",
        title="method (seen, OOD)",
        handler_map={tuple: HandlerTuple(ndivide=None)},
    )
    key = (
        Line2D([], [], marker="o", linestyle="", color=GREY, markeredgecolor="black", markeredgewidth=0.4),
        Line2D([], [], marker="^", linestyle="", markerfacecolor="white", markeredgecolor=GREY, markeredgewidth=1.4),
    )
    fig.legend(key, ["filled: seen-trigger ASR", "open: OOD-trigger ASR"], loc="outside right lower", title="marker")
    fig.add_artist(first)
