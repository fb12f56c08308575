"""Forget weights by trigger family as a figure: one panel per weighting method (lowest seed), one column of dots
per family (each dot a forget row, spread sideways so they do not hide each other), the family mean with its
sample std as a black bar. Data: :class:`rapidun.reporting.weight_families.FamilyWeights`."""

from __future__ import annotations

import math

from rapidun.reporting.figure_style import PlotResult, figure, to_png
from rapidun.reporting.weight_families import FamilyWeights

COLUMNS = 3
DOT = "#0072B2"


def _offsets(n: int) -> list[float]:
    """Deterministic sideways offsets in [-0.25, 0.25] for n dots (no random jitter: the same data, the same PNG)."""
    return [0.0] if n == 1 else [-0.25 + 0.5 * i / (n - 1) for i in range(n)]


def weight_family_figure(fw: FamilyWeights, name: str) -> PlotResult:
    title = "Forget weights by trigger family"
    caption = (
        "Per-row forget weights of each weighting method (lowest seed), grouped by the trigger family of the forget "
        "row: dots = rows, black bar = family mean ± sample std. Dashed line: weight 1 (the average row)."
    )
    if not fw.by_method:
        return PlotResult(name, title, caption, None, "skipped: no method of this dataset recorded unequal weights")
    n = len(fw.by_method)
    n_cols = min(COLUMNS, n)
    n_rows = math.ceil(n / COLUMNS)
    with figure(max(4.5, 3.9 * n_cols), 0.4 + 2.5 * n_rows) as fig:
        axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True)
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_axis_off()
                continue
            method, per = list(fw.by_method.items())[k]
            for j, family in enumerate(fw.families):
                ws = sorted(per[family])
                if not ws:
                    continue
                ax.scatter([j + d for d in _offsets(len(ws))], ws, s=9, color=DOT, alpha=0.6, linewidths=0)
                mean = math.fsum(ws) / len(ws)
                std = math.sqrt(math.fsum((w - mean) ** 2 for w in ws) / (len(ws) - 1)) if len(ws) > 1 else 0.0
                ax.errorbar(j, mean, yerr=std, fmt="_", color="black", markersize=18, capsize=3, linewidth=1.2)
            ax.axhline(1.0, color="#555555", linestyle="--", linewidth=0.8)
            ax.set_xticks(range(len(fw.families)))
            ax.set_xticklabels([f"{f}\n({fw.counts[f]} rows)" for f in fw.families], fontsize=8)
            ax.set_xlim(-0.6, len(fw.families) - 0.4)
            ax.set_title(method, fontsize=9)
            ax.set_ylabel("forget weight")
            ax.grid(axis="x", visible=False)
        png = to_png(fig)
    return PlotResult(name, title, caption, png)
