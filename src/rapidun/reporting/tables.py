"""The results table: runs grouped by (dataset, method, label) over seeds, as mean ± spread.

Spread is the sample standard deviation (ddof = 1) over the seeds of a group; a group with one seed has no
spread. Every column states its direction of "better". Values are taken as written in ``results.json``; rates
(shares in [0, 1]) are shown in percent.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidun.reporting.results import RunRecord
from rapidun.unlearning.registry import report_order

SPREAD_NOTE = "mean ± sample standard deviation (ddof = 1) over seeds; a single seed shows no spread"
# The record of the model before unlearning (not a method): shown first, as the starting point.
BACKDOORED = "backdoored"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    unit: str
    better: str  # "lower" or "higher"
    value: Callable[[RunRecord], float | None]
    scale: float = 1.0  # display multiplier (rates -> percent)
    digits: int | None = None  # fixed decimals, or None: by magnitude (see format_number)

    @property
    def direction(self) -> str:
        return f"{self.better} is better"


def _metric(key: str) -> Callable[[RunRecord], float | None]:
    return lambda r: r.headline(key)


COLUMNS: tuple[Column, ...] = (
    Column("asr_seen", "seen-trigger ASR", "%", "lower", _metric("asr_seen"), 100.0, 1),
    Column("asr_ood", "OOD-trigger ASR", "%", "lower", _metric("asr_ood"), 100.0, 1),
    Column("false_trigger_rate", "false-trigger rate", "%", "lower", _metric("false_trigger_rate"), 100.0, 1),
    Column("clean_ppl", "clean perplexity", "", "lower", _metric("clean_ppl")),
    Column("wall_clock", "wall-clock", "s", "lower", lambda r: r.timings.get("total_s")),
    Column("speedup", "speedup vs retraining", "×", "higher", lambda r: r.speedup_vs_retrain),
    Column("peak_memory", "peak memory", "MB", "lower", lambda r: r.peak_memory_mb),
)


@dataclass(frozen=True)
class Stat:
    """Mean and spread of one column over the seeds of a group; ``n`` counts the seeds that had a value."""

    mean: float | None
    std: float | None
    lo: float | None
    hi: float | None
    n: int


@dataclass(frozen=True)
class GroupRow:
    dataset: str
    method: str
    label: str | None
    seeds: tuple[int, ...]
    stats: dict[str, Stat]

    @property
    def name(self) -> str:
        return f"{self.method} [{self.label}]" if self.label else self.method


def method_order() -> tuple[str, ...]:
    """Display order of the methods: the backdoored model, then the registry's :func:`report_order` (read at each
    call, so a method registered later is placed too)."""
    return (BACKDOORED, *report_order())


def method_rank(method: str) -> tuple[int, str]:
    """Sort key: known methods in :func:`method_order`; any other method follows, alphabetically."""
    order = method_order()
    return (order.index(method) if method in order else len(order), method)


def summarize(values: Sequence[float | None]) -> Stat:
    """Mean, sample std (ddof = 1; None for fewer than two values), min and max of the non-None values."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return Stat(None, None, None, None, 0)
    mean = math.fsum(xs) / len(xs)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return Stat(mean, std, min(xs), max(xs), len(xs))


def aggregate_runs(runs: Sequence[RunRecord]) -> list[GroupRow]:
    """Group runs by (dataset, method, label) and summarise every column over seeds.

    Groups keep the datasets' first-seen order; within a dataset, methods follow :func:`method_order`, then labels.
    """
    groups: dict[tuple[str, str, str | None], list[RunRecord]] = {}
    for r in runs:
        groups.setdefault((r.dataset, r.method, r.label), []).append(r)
    dataset_order = list(dict.fromkeys(r.dataset for r in runs))
    keys = sorted(groups, key=lambda k: (dataset_order.index(k[0]), method_rank(k[1]), k[2] or ""))
    rows = []
    for key in keys:
        members = sorted(groups[key], key=lambda r: r.seed)
        stats = {c.key: summarize([c.value(r) for r in members]) for c in COLUMNS}
        rows.append(GroupRow(key[0], key[1], key[2], tuple(r.seed for r in members), stats))
    return rows


def format_number(x: float | None, scale: float = 1.0, digits: int | None = None) -> str:
    """A compact number: n/a for None, 'inf'/'nan' as such, decimals shrinking as the magnitude grows."""
    if x is None:
        return "n/a"
    x *= scale
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if digits is None:
        digits = _digits(x)
    return f"{x:,.{digits}f}"


def format_mean_spread(stat: Stat, scale: float = 1.0, digits: int | None = None) -> str:
    """``mean ± std`` (just the mean for one value), both with the mean's number of decimals."""
    if stat.mean is None:
        return "n/a"
    digits = _digits(stat.mean * scale) if digits is None else digits
    text = format_number(stat.mean, scale, digits)
    if stat.std is not None:
        text += f" ± {format_number(stat.std, scale, digits)}"
    return text


def format_stat(stat: Stat, column: Column, group_size: int) -> str:
    """``mean ± std`` in the column's unit; ``(n=k)`` when only k of the group's seeds had a value."""
    text = format_mean_spread(stat, column.scale, column.digits)
    if stat.mean is not None and stat.n < group_size:
        text += f" (n={stat.n})"
    return text


def _digits(x: float) -> int:
    if not math.isfinite(x):
        return 0
    return 0 if abs(x) >= 1000 else 1 if abs(x) >= 10 else 2


def column_header(column: Column) -> str:
    unit = f" ({column.unit})" if column.unit else ""
    return f"{column.title}{unit}"


def _cells(row: GroupRow) -> list[str]:
    n = len(row.seeds)
    return [row.name, str(n)] + [format_stat(row.stats[c.key], c, n) for c in COLUMNS]


def markdown_table(heads: Sequence[str], rows: Sequence[Sequence[str]], n_text: int = 1) -> str:
    """A markdown table; the first ``n_text`` columns are left-aligned text, the rest right-aligned numbers."""
    aligns = ["---"] * n_text + ["---:"] * (len(heads) - n_text)
    lines = ["| " + " | ".join(_md_escape(h) for h in heads) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(
    heads: Sequence[str],
    rows: Sequence[Sequence[str]],
    n_text: int = 1,
    raw_heads: bool = False,
    css_class: str = "results",
) -> str:
    """An HTML table (styled by the report's stylesheet); ``raw_heads`` marks header cells as HTML already;
    ``css_class="settings"`` lets long values (paths, commands) break anywhere instead of widening the page."""
    ths = "".join(f"<th>{h if raw_heads else html.escape(h)}</th>" for h in heads)
    body = []
    for row in rows:
        tds = [
            f"<td>{html.escape(c)}</td>" if i < n_text else f'<td class="num">{html.escape(c)}</td>'
            for i, c in enumerate(row)
        ]
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table class="{css_class}">\n<thead><tr>{ths}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def _md_heads() -> list[str]:
    return [f"{column_header(c)}, {c.direction}" for c in COLUMNS]


def _html_heads() -> list[str]:
    arrows = {"lower": "↓", "higher": "↑"}
    return [f"{html.escape(column_header(c))}<br><small>{arrows[c.better]} {c.direction}</small>" for c in COLUMNS]


def format_table_markdown(rows: Sequence[GroupRow]) -> str:
    """A GitHub-flavoured markdown table; each header names its unit and its direction of "better"."""
    return markdown_table(["method", "seeds", *_md_heads()], [_cells(r) for r in rows])


def format_table_html(rows: Sequence[GroupRow]) -> str:
    """The same table as HTML; each header carries an arrow and "lower/higher is better"."""
    return html_table(["method", "seeds", *_html_heads()], [_cells(r) for r in rows], raw_heads=True)


def format_comparison(runs: Sequence[tuple[str, Sequence[GroupRow]]]) -> tuple[str, str]:
    """(markdown, HTML) of one table over several run directories: a row per (dataset, method, label, run)."""
    entries = [(run, r) for run, rows in runs for r in rows]
    run_order = [run for run, _ in runs]
    entries.sort(key=lambda e: (e[1].dataset, method_rank(e[1].method), e[1].label or "", run_order.index(e[0])))
    cells = [[e[1].dataset, e[1].name, e[0], *_cells(e[1])[1:]] for e in entries]
    md = markdown_table(["dataset", "method", "run", "seeds", *_md_heads()], cells, n_text=3)
    heads = [html.escape(h) for h in ("dataset", "method", "run", "seeds")] + _html_heads()
    return md, html_table(heads, cells, n_text=3, raw_heads=True)


def format_table_text(rows: Sequence[GroupRow]) -> str:
    """A fixed-width table for terminals, one block per dataset; a line under the header gives each direction."""
    heads = ["method", "seeds"] + [column_header(c) for c in COLUMNS]
    dirs = ["", ""] + [("lower" if c.better == "lower" else "higher") + " better" for c in COLUMNS]
    out: list[str] = []
    for dataset in dict.fromkeys(r.dataset for r in rows):
        body = [_cells(r) for r in rows if r.dataset == dataset]
        widths = [max(len(x) for x in col) for col in zip(heads, dirs, *body, strict=True)]

        def line(cells: Sequence[str], widths: list[int] = widths) -> str:
            parts = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            return "  ".join(parts).rstrip()

        out += [f"dataset: {dataset}", line(heads), line(dirs), "  ".join("-" * w for w in widths)]
        out += [line(b) for b in body]
        out.append("")
    out.append(f"({SPREAD_NOTE})")
    return "\n".join(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")
