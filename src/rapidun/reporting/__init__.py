"""Reporting: results tables, figures and the self-contained HTML / markdown report of a run directory.

Reads only what a run wrote (``results.json``, the weights files it points to, a study's cell files); computes
nothing but means and spreads over seeds, paired intervals, and a facts dataset's ROC curves from its per-row
scores. Entry point: :func:`render_report`.
"""

from rapidun.reporting.render import ReportPaths, render_report
from rapidun.reporting.results import RunRecord, RunResults, load_results, parse_results
from rapidun.reporting.tables import (
    GroupRow,
    aggregate_runs,
    format_table_html,
    format_table_markdown,
    format_table_text,
)

__all__ = [
    "GroupRow",
    "ReportPaths",
    "RunRecord",
    "RunResults",
    "aggregate_runs",
    "format_table_html",
    "format_table_markdown",
    "format_table_text",
    "load_results",
    "parse_results",
    "render_report",
]
