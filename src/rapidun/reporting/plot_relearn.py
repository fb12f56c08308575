"""The relearning section of a dataset (docs/method.md section 7): per method, the recovery of the task's main metric
m after a short fine-tune on forget rows, as a bar figure and a table.

    recovery = (m_relearned - m_unlearned) / (m_before - m_unlearned)

with m the seen-trigger ASR on a backdoor dataset and the forget-set answer accuracy on a facts dataset (m_before:
the backdoored / trained model's). 0 = nothing came back, 1 = back to the model before unlearning; lower is better.
Bars are means over seeds of the runs' ``relearn_recovery`` with the sample standard deviation as error bars; a run
whose recovery is undefined (unlearning moved the metric by less than ``min_gap``) is counted in the table and left
out of the mean. Shown only when some run of the dataset has a relearning result.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidun.reporting.document import Block, Table
from rapidun.reporting.figure_style import PlotResult, Style, figure, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import format_mean_spread, html_table, markdown_table, method_rank, summarize

TITLE = "Relearning"


def _metric(runs: Sequence[RunRecord]) -> tuple[str, str, str]:
    """(metric name, its short form for axes, the model before unlearning) of the runs' task."""
    if any(r.is_facts for r in runs):
        return "forget accuracy", "forget accuracy", "the model before unlearning"
    return "seen-trigger ASR", "seen-ASR", "the backdoored model"


def _groups(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    groups: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        if r.relearned:
            groups.setdefault(r.name, []).append(r)
    return groups


def relearn_table(runs: Sequence[RunRecord]) -> Table | None:
    """Mean ± std recovery per method, with how many seeds had a defined recovery; None when no run relearned."""
    groups = _groups(runs)
    if not groups:
        return None
    heads = ["method", f"{_metric(runs)[1]} recovery (lower is better)", "seeds with a recovery", "why undefined"]
    rows = []
    for name, members in groups.items():
        st = summarize([r.relearn_recovery for r in members])
        reasons = sorted({r.relearn_reason for r in members if r.relearn_reason})
        rows.append([name, format_mean_spread(st, 1, 2), f"{st.n} of {len(members)}", "; ".join(reasons) or "-"])
    return Table(markdown_table(heads, rows, n_text=1), html_table(heads, rows, n_text=1))


def relearn_bars(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult | None:
    """Bars of mean recovery per method (error bars: sample std over seeds); None when no run relearned."""
    groups = _groups(runs)
    if not groups:
        return None
    metric, short, before = _metric(runs)
    caption = (
        f"Recovery of {metric} after the relearning fine-tune, mean over seeds (error bars: sample std): "
        f"0 = nothing came back, 1 = back to {before}. Lower is better. Retraining shows how fast the "
        "few rows teach the behaviour from scratch."
    )
    stats = {n: summarize([r.relearn_recovery for r in g]) for n, g in groups.items()}
    shown = [n for n in groups if stats[n].mean is not None]
    if not shown:
        return PlotResult(name, TITLE, caption, None, "skipped: no run has a defined recovery")
    with figure(max(5.5, 0.9 * len(shown) + 2.5), 4.0) as fig:
        ax = fig.subplots()
        means = [float(stats[n].mean or 0.0) for n in shown]
        errs = [float(stats[n].std or 0.0) for n in shown]
        ax.bar(range(len(shown)), means, yerr=errs, color=[style.colors.get(n, "#999999") for n in shown], capsize=4)
        ax.axhline(0.0, color="black", linewidth=0.8)  # zero = nothing recovered: keep it visible
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(shown)), shown, rotation=30, ha="right")
        ax.set_ylabel(f"{short} recovery")
        ax.set_title("Relearning recovery (lower is better)")
        png = to_png(fig)
    return PlotResult(name, TITLE, caption, png)


def relearn_section(runs: Sequence[RunRecord]) -> list[Block]:
    """The table of the section (the figure is written by the renderer); empty when no run relearned."""
    table = relearn_table(runs)
    return [] if table is None else [table]
