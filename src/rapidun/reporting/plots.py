"""Every figure of one dataset's section, in report order. A figure whose data is absent comes back with
``png=None`` and a note, so the report says what is missing instead of failing."""

from __future__ import annotations

from collections.abc import Sequence

from rapidun.reporting.figure_style import PlotResult, Style
from rapidun.reporting.plot_asr import asr_by_trigger
from rapidun.reporting.plot_cost import stage_timings
from rapidun.reporting.plot_tradeoff import asr_vs_ppl
from rapidun.reporting.plot_weights import weight_histograms
from rapidun.reporting.results import RunRecord

PLOTS = {
    "weights": weight_histograms,
    "asr_by_trigger": asr_by_trigger,
    "asr_vs_ppl": asr_vs_ppl,
    "timings": stage_timings,
}


def make_plots(runs: Sequence[RunRecord], style: Style, prefix: str) -> list[PlotResult]:
    """All figures for ``runs`` (one dataset of one run directory); file stems are ``{prefix}{plot name}``."""
    return [plot(runs, style, f"{prefix}{key}") for key, plot in PLOTS.items()]
