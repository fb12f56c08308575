"""Precision@k / recall@k curves of one or several rankings (docs/method.md section 2; docs/tracing.md).

``rapidun trace`` writes ``pr_at_k.png`` beside ``quality.json`` (one ranking); the trace benchmarks draw one figure
per case with every ranker (benchmarks/trace_cases.py). Precision@k (solid) and recall@k (dashed) share the y axis;
the dotted vertical line marks k = the number of responsible rows, where precision equals recall. Built with
:class:`matplotlib.figure.Figure` and the Agg canvas (no pyplot state), written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def plot_pr_at_k(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    n_positive: int,
    path: str | os.PathLike[str],
    *,
    title: str = "",
    max_k: int | None = None,
) -> Path:
    """Draw ``curves`` (name -> (precision, recall), each (N,) indexed by k - 1) for k = 1..max_k (default
    min(N, 3 * n_positive)) and write the PNG to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = min(len(p) for p, _ in curves.values())
    top = min(n, max_k if max_k is not None else 3 * n_positive)
    ks = np.arange(1, top + 1)
    fig = Figure(figsize=(8.0, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (name, (precision, recall)) in enumerate(curves.items()):
        colour = f"C{i % 10}"
        ax.plot(ks, precision[:top], color=colour, lw=1.6, label=f"{name} precision")
        ax.plot(ks, recall[:top], color=colour, lw=1.6, ls="--", label=f"{name} recall")
    ax.axvline(n_positive, color="0.5", ls=":", lw=1.0)
    ax.set(xlabel="k (top-ranked training rows)", ylabel="precision@k, recall@k", ylim=(0, 1.02), xlim=(1, top))
    ax.set_title(title or f"{n_positive} responsible rows (dotted line)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: curves cross everywhere
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    fig.savefig(tmp, dpi=120, format="png")
    os.replace(tmp, out)
    return out
