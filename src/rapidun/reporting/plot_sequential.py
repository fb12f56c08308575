"""The sequential-requests section of a dataset (issue 15 item 4; docs/method.md section 6): per method, what each of
k successive deletion requests leaves (seen-trigger ASR, clean perplexity) and what the k requests cost, against
one combined request of the same rows. A figure (seen ASR after each request, the combined request as a separate
marker at request k) and a table (means over seeds). Shown only when some run of the dataset has a ``sequential``
record (:mod:`rapidun.pipeline.study_sequential`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rapidun.reporting.document import Block, Table
from rapidun.reporting.figure_style import PlotResult, Style, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import format_mean_spread, html_table, markdown_table, method_rank, summarize

TITLE = "Sequential deletion requests"


def _groups(runs: Sequence[RunRecord]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        if r.sequential and r.sequential.get("requests"):
            groups.setdefault(r.name, []).append(r.sequential)
    return groups


def _metric(records: Sequence[dict[str, Any]], step: int | str, key: str) -> list[float | None]:
    """``key`` of every seed's record after request ``step`` (1-based) or of the combined request (``"combined"``).
    ``key`` is a metric name, or ``"cost"``: the unlearning seconds so far (all requests up to ``step``)."""
    out: list[float | None] = []
    for rec in records:
        if step == "combined":
            part, cost_key = rec.get("combined"), "cost_s"
        else:
            steps = rec["requests"]
            part, cost_key = (steps[int(step) - 1] if int(step) <= len(steps) else None), "cumulative_cost_s"
        value = None if part is None else (part.get(cost_key) if key == "cost" else part["metrics"].get(key))
        out.append(None if value is None else float(value))
    return out


def sequential_table(runs: Sequence[RunRecord]) -> Table | None:
    """Per method and step (each request, then the combined one): seen ASR (%), clean perplexity and cumulative
    cost, mean ± sample std over seeds; None when no run served sequential requests."""
    groups = _groups(runs)
    if not groups:
        return None
    heads = ["method", "after", "seen ASR (%)", "OOD ASR (%)", "clean PPL", "unlearning cost so far (s)"]
    rows = []
    for name, recs in groups.items():
        k = max(len(r["requests"]) for r in recs)
        for step in [*range(1, k + 1), "combined"]:
            if step == "combined" and all(r.get("combined") is None for r in recs):
                continue
            rows.append(
                [
                    name,
                    f"request {step} of {k}" if step != "combined" else "one combined request",
                    format_mean_spread(summarize(_metric(recs, step, "asr_seen")), 100, 1),
                    format_mean_spread(summarize(_metric(recs, step, "asr_ood")), 100, 1),
                    format_mean_spread(summarize(_metric(recs, step, "clean_ppl")), 1, 2),
                    format_mean_spread(summarize(_metric(recs, step, "cost")), 1, 1),
                ]
            )
    return Table(markdown_table(heads, rows, n_text=2), html_table(heads, rows, n_text=2))


def sequential_figure(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult | None:
    """Seen-trigger ASR after each request per method (mean over seeds), the combined request as a hollow marker;
    None when no run served sequential requests."""
    groups = _groups(runs)
    if not groups:
        return None
    caption = (
        "Seen-trigger ASR after each of k successive deletion requests (each served on the merged result of the "
        "previous one), mean over seeds; the hollow marker at request k is one combined request of the same rows. "
        "Lower is better; request 0 is the model before unlearning."
    )
    with figure(6.4, 4.0) as fig:
        ax = fig.subplots()
        for method, recs in groups.items():
            k = max(len(r["requests"]) for r in recs)
            start = summarize([float(r["start"]["asr_seen"]) for r in recs if r.get("start")]).mean
            ys = [summarize(_metric(recs, i, "asr_seen")).mean for i in range(1, k + 1)]
            xs = [0, *range(1, k + 1)]
            values = [start, *ys]
            color = style.colors.get(method.split(" [")[0], "#555555")
            pts = [(x, 100 * y) for x, y in zip(xs, values, strict=True) if y is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=color, label=method)
            combined = summarize(_metric(recs, "combined", "asr_seen")).mean
            if combined is not None:
                ax.plot([k], [100 * combined], marker="o", markersize=11, markerfacecolor="none", color=color)
        ax.set_xlabel("deletion requests served")
        ax.set_ylabel("seen-trigger ASR (%)")
        ax.set_ylim(bottom=0)
        ax.set_title("Sequential requests (hollow: one combined request)")
        ax.legend(fontsize=8)
        png = to_png(fig)
    return PlotResult(name, TITLE, caption, png)


def sequential_section(runs: Sequence[RunRecord]) -> list[Block]:
    """The table of the section (the figure is written by the renderer); empty when no run served requests."""
    table = sequential_table(runs)
    return [] if table is None else [table]
