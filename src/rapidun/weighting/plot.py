"""Histogram of the forget and retain weights, side by side (``weights_hist.png``)."""

from __future__ import annotations

import io

import numpy as np


def weights_histogram_png(forget: np.ndarray, retain: np.ndarray, title: str) -> bytes:
    """PNG bytes of two histograms (forget ``(nF,)`` left, retain ``(nR,)`` right); Agg backend, no display."""
    # A Figure bound to an Agg canvas directly: no pyplot, no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, w, name, colour in ((axes[0], forget, "forget", "tab:red"), (axes[1], retain, "retain", "tab:blue")):
        ax.hist(w, bins=min(30, max(5, len(w) // 2)), color=colour, alpha=0.85, edgecolor="black", linewidth=0.4)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8, label="weight 1")
        ax.set_title(f"{name} weights (n={len(w)}, {len(np.unique(np.round(w, 12)))} distinct)")
        ax.set_xlabel("weight (mean one)")
        ax.set_ylabel("rows")
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
