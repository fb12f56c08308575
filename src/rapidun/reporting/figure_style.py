"""Shared look of every report figure: Okabe-Ito colours (colour-blind safe), fixed sizes, deterministic PNGs.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, never ``pyplot``: no global
backend switch in the caller's process and no figure registry to leak.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rapidun.reporting.tables import method_rank

DPI = 100
# Okabe & Ito (2008), ordered so that neighbouring methods differ in lightness as well as hue.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
HATCHES = ("", "//", "..", "xx")
# Scatter markers (filled for seen-trigger ASR, open for OOD) per colour cycle, so a reused colour differs in shape.
MARKERS = (("o", "^"), ("s", "v"), ("D", "<"), ("P", ">"))
GREY = "#777777"
RC: Any = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "rapidun",
}


@dataclass(frozen=True)
class PlotResult:
    """One report figure: ``png`` is None when the data was absent, and ``note`` says why it was skipped."""

    name: str  # file stem, unique within a report
    title: str
    caption: str
    png: bytes | None
    note: str | None = None


@dataclass(frozen=True)
class Style:
    """The colour (and, past eight groups, hatch) of each group name, shared by every figure of a report."""

    colors: dict[str, str]
    hatches: dict[str, str]
    markers: dict[str, tuple[str, str]]  # (seen, OOD) scatter markers


def make_style(names: Sequence[tuple[str, str | None]]) -> Style:
    """Assign colours to display names of (method, label) groups in the fixed method order."""
    ordered = sorted(dict.fromkeys(names), key=lambda k: (method_rank(k[0]), k[1] or ""))
    colors, hatches, markers = {}, {}, {}
    for i, (method, label) in enumerate(ordered):
        name = f"{method} [{label}]" if label else method
        cycle = i // len(PALETTE)
        colors[name] = PALETTE[i % len(PALETTE)]
        hatches[name] = HATCHES[cycle % len(HATCHES)]
        markers[name] = MARKERS[cycle % len(MARKERS)]
    return Style(colors, hatches, markers)


@contextmanager
def figure(width: float, height: float) -> Iterator[Figure]:
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


def to_png(fig: Figure) -> bytes:
    """PNG bytes without a timestamp or software tag, so the same data gives the same file."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


@lru_cache(maxsize=1)
def _font_chars() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap())


def glyph_label(text: str) -> str:
    """``text`` made legible on a plot axis: invisible or unrenderable characters become ``<U+XXXX>``, and visible
    non-ASCII look-alikes (homoglyph OOD triggers) are listed after it, e.g. ``hоwdy [U+043E]``."""
    out, lookalikes = [], []
    for ch in text:
        invisible = unicodedata.category(ch) in ("Cf", "Cc", "Zl", "Zp") or (ch.isspace() and ch != " ")
        if invisible or (ord(ch) > 127 and ord(ch) not in _font_chars()):
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(ch)
            if ord(ch) > 127 and f"U+{ord(ch):04X}" not in lookalikes:
                lookalikes.append(f"U+{ord(ch):04X}")
    label = "".join(out) + (f" [{' '.join(lookalikes)}]" if lookalikes else "")
    return label.replace("$", r"\$")
