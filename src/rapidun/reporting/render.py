"""Render one or several run directories as ``report.md`` (+ PNG files) and a self-contained ``report.html``.

The HTML embeds the same PNGs as base64 data URIs, so the single file still works when moved or mailed. Files
are written atomically: figures first, then ``report.md``, then ``report.html`` (the report is complete once the
HTML exists). Stale figures of an earlier render in the figures folder are removed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidun.artifacts import atomic_write_bytes, atomic_write_text, ensure_dir
from rapidun.errors import RapidunError
from rapidun.reporting.document import Block, Heading, Image, Note, Para, Table, to_html, to_markdown
from rapidun.reporting.facts_sections import (
    display_name,
    facts_results_blocks,
    facts_run_table,
    facts_verdict_blocks,
    how_to_read_facts,
)
from rapidun.reporting.figure_style import PlotResult, Style, make_style
from rapidun.reporting.frontier import frontier_blocks, frontier_figure
from rapidun.reporting.plot_facts import forget_quality_vs_utility, mia_roc_figure
from rapidun.reporting.plot_loss import loss_curves
from rapidun.reporting.plot_relearn import relearn_bars, relearn_section
from rapidun.reporting.plot_sequential import sequential_figure, sequential_section
from rapidun.reporting.plot_weight_families import weight_family_figure
from rapidun.reporting.plots import make_plots
from rapidun.reporting.results import RunRecord, RunResults, load_results
from rapidun.reporting.samples import example_blocks
from rapidun.reporting.sections import cost_details, header_blocks, how_to_read, per_family_table, run_details
from rapidun.reporting.tables import (
    SPREAD_NOTE,
    aggregate_runs,
    format_comparison,
    format_table_html,
    format_table_markdown,
    html_table,
    markdown_table,
)
from rapidun.reporting.verdict import verdict_blocks
from rapidun.reporting.weight_families import family_weights, weight_family_blocks

log = logging.getLogger(__name__)
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES_DIR = "report_figures"


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    figures: list[Path]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def run_names(run_dirs: Sequence[Path]) -> list[str]:
    """Short unique names for run directories: the folder name, or more of the path when names clash."""
    base = [p.resolve().name or str(p) for p in run_dirs]
    clashing = {n for n in base if base.count(n) > 1}
    names = [f"{p.resolve().parent.name}/{n}" if n in clashing else n for p, n in zip(run_dirs, base, strict=True)]
    return [f"{n}#{i + 1}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def render_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> ReportPaths:
    """Read every run directory's ``results.json`` and write ``out_dir/report.{md,html}`` with the figures.

    With several run directories, a comparison section (headers and results side by side) comes first.
    Raises :class:`RapidunError` for a missing or malformed ``results.json``.
    """
    if not run_dirs:
        raise RapidunError("no run directory given; pass at least one directory that holds a results.json")
    dirs = [Path(d) for d in run_dirs]
    results = [load_results(d) for d in dirs]  # validate all before writing anything
    out = ensure_dir(out_dir)
    fig_dir = out / FIGURES_DIR
    names = run_names(dirs)
    multi = len(results) > 1
    style = make_style([(r.method, r.label) for res in results for r in res.runs])

    blocks: list[Block] = [Heading(1, "rapidun report")]
    sources = ", ".join(f"`{d}`" for d in dirs)
    blocks.append(Para(f"Rendered from {len(dirs)} run director{'ies' if multi else 'y'}: {sources}."))
    blocks += _verdicts(results, names, multi)  # the answer first; how to read it and the setup follow
    records = [r for res in results for r in res.runs]
    blocks.append(Heading(2, "How to read this"))
    blocks += how_to_read() if any(not r.is_facts for r in records) or not records else []
    blocks += how_to_read_facts() if any(r.is_facts for r in records) else []
    if multi:
        blocks += _comparison(results, names)
    figures: list[Path] = []
    for i, (res, name) in enumerate(zip(results, names, strict=True)):
        level = 3 if multi else 2
        if multi:
            blocks.append(Heading(2, f"Run {i + 1}: {name}"))
        prefix = f"run{i + 1}_" if multi else ""
        blocks += _run_section(res, level, prefix, style, fig_dir, figures)

    for p in fig_dir.glob("*.png") if fig_dir.is_dir() else []:
        if p not in figures:
            p.unlink()
    md_path, html_path = out / REPORT_MD, out / REPORT_HTML
    atomic_write_text(md_path, to_markdown(blocks))
    atomic_write_text(html_path, to_html(blocks, title=f"rapidun report: {', '.join(names)}"))
    log.debug("wrote %s, %s and %d figures", html_path, md_path, len(figures))
    return ReportPaths(html=html_path, markdown=md_path, figures=figures)


def _verdicts(results: Sequence[RunResults], names: Sequence[str], multi: bool) -> list[Block]:
    """The verdict of every (run directory, dataset): see :mod:`rapidun.reporting.verdict`."""
    blocks: list[Block] = []
    for res, name in zip(results, names, strict=True):
        for dataset in res.datasets:
            where = f"{name} / {dataset}" if multi else dataset
            runs = [r for r in res.runs if r.dataset == dataset]
            verdict = facts_verdict_blocks(runs) if _is_facts(runs) else verdict_blocks(res, dataset)
            blocks += [Heading(2, f"Verdict: {where}"), *verdict]
    return blocks


def _run_section(
    res: RunResults, level: int, prefix: str, style: Style, fig_dir: Path, figures: list[Path]
) -> list[Block]:
    """One run directory: per dataset the results, the frontier, examples, figures and details; the setup last."""
    setup: list[Block] = [Heading(level, "Setup"), *header_blocks(res)]
    if not res.runs:
        return [*setup, Note("results.json lists no runs; nothing to tabulate or plot.")]
    blocks: list[Block] = []
    slugs: list[str] = []
    for dataset in res.datasets:
        slug = _slug(dataset)
        slug = slug if slug not in slugs else f"{slug}-{len(slugs) + 1}"  # "a b" and "a-b" must not share files
        slugs.append(slug)
        blocks += _dataset_section(res, dataset, level, f"{prefix}{slug}_", style, fig_dir, figures)
    return blocks + setup


def _is_facts(runs: Sequence[RunRecord]) -> bool:
    """A facts dataset: its runs were evaluated by the facts metrics (its sections differ from a backdoor's)."""
    return any(r.is_facts for r in runs)


def _facts_section(
    res: RunResults, dataset: str, level: int, stem: str, style: Style, fig_dir: Path, figures: list[Path]
) -> list[Block]:
    """A facts dataset: the facts table, forget quality vs utility, the MIA ROC curves, the unlearning losses,
    relearning and the per-run metrics and costs."""
    runs = [r for r in res.runs if r.dataset == dataset]
    blocks: list[Block] = [Heading(level, f"Results: {dataset}"), *facts_results_blocks(runs)]
    blocks += [Heading(level + 1, f"Figures: {dataset}")]
    blocks += _figure(forget_quality_vs_utility(runs, style, f"{stem}forget_quality"), fig_dir, figures)
    blocks += _figure(mia_roc_figure(res.run_dir, runs, style, f"{stem}mia_roc"), fig_dir, figures)
    blocks += [Heading(level + 1, f"Unlearning runs: {dataset}")]
    blocks += _figure(loss_curves(res.run_dir, runs, f"{stem}loss_curves"), fig_dir, figures)
    blocks += _relearn(runs, dataset, level, stem, style, fig_dir, figures)
    details = [Para("Metrics per run:"), facts_run_table(runs), *cost_details(runs, display_name)]
    return [*blocks, Heading(level + 1, f"Per-run details: {dataset}"), *details]


def _relearn(
    runs: list[RunRecord], dataset: str, level: int, stem: str, style: Style, fig_dir: Path, figures: list[Path]
) -> list[Block]:
    relearn = relearn_section(runs)
    if not relearn:
        return []
    bars = relearn_bars(runs, style, f"{stem}relearn")
    blocks = [Heading(level + 1, f"Relearning: {dataset}"), *relearn]
    return blocks + (_figure(bars, fig_dir, figures) if bars is not None else [])


def _dataset_section(
    res: RunResults, dataset: str, level: int, stem: str, style: Style, fig_dir: Path, figures: list[Path]
) -> list[Block]:
    runs = [r for r in res.runs if r.dataset == dataset]
    if _is_facts(runs):
        return _facts_section(res, dataset, level, stem, style, fig_dir, figures)
    groups = aggregate_runs(runs)
    seeds = sorted({r.seed for r in runs})
    blocks: list[Block] = [
        Heading(level, f"Results: {dataset}"),
        Para(f"{len(runs)} runs, seeds {', '.join(map(str, seeds))}. Values: {SPREAD_NOTE}."),
        Table(format_table_markdown(groups), format_table_html(groups)),
    ]
    front, block = frontier_blocks(res.frontier, dataset)
    if front:
        blocks += [Heading(level + 1, f"Frontier at matched perplexity: {dataset}"), *front]
    if block is not None and res.frontier is not None:
        budgets = [str(b) for b in res.frontier["budgets"]]
        blocks += _figure(frontier_figure(block, budgets, f"{stem}frontier"), fig_dir, figures)
    blocks += [
        Heading(level + 1, f"Example generations before and after: {dataset}"),
        *example_blocks(res.run_dir, runs),
    ]
    blocks += [Heading(level + 1, f"Figures: {dataset}")]
    fam = per_family_table(runs)
    if fam is not None:
        blocks += [Para("ASR per trigger family (%, mean ± sample std over seeds):"), fam]
    for plot in make_plots(runs, style, stem):
        blocks += _figure(plot, fig_dir, figures)
    blocks += [Heading(level + 1, f"Unlearning runs: {dataset}")]
    blocks += _figure(loss_curves(res.run_dir, runs, f"{stem}loss_curves"), fig_dir, figures)
    by_family = family_weights(res.run_dir, dataset, runs)
    blocks += weight_family_blocks(by_family, dataset)
    if by_family.by_method:
        blocks += _figure(weight_family_figure(by_family, f"{stem}weights_by_family"), fig_dir, figures)
    blocks += _relearn(runs, dataset, level, stem, style, fig_dir, figures)
    sequential = sequential_section(runs)
    if sequential:
        blocks += [Heading(level + 1, f"Sequential deletion requests: {dataset}"), *sequential]
        chart = sequential_figure(runs, style, f"{stem}sequential")
        blocks += _figure(chart, fig_dir, figures) if chart is not None else []
    return [*blocks, Heading(level + 1, f"Per-run details: {dataset}"), *run_details(runs)]


def _figure(plot: PlotResult, fig_dir: Path, figures: list[Path]) -> list[Block]:
    """A figure's blocks (its PNG written under ``fig_dir`` and listed in ``figures``), or a note when skipped."""
    if plot.png is None:
        return [Note(f"{plot.title}: {plot.note}")]
    path = fig_dir / f"{plot.name}.png"
    atomic_write_bytes(path, plot.png)
    figures.append(path)
    out: list[Block] = [Image(f"{FIGURES_DIR}/{path.name}", plot.png, plot.title, plot.caption)]
    return out + ([Note(f"{plot.title}: {plot.note}")] if plot.note else [])


def _comparison(results: Sequence[RunResults], names: Sequence[str]) -> list[Block]:
    keys = (
        ("rapidun_version", "rapidun"),
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("git_commit", "git commit"),
        ("created", "created"),
        ("model", "model"),
        ("seeds", "seeds"),
        ("cpu", "CPU"),
        ("n_threads", "threads"),
    )
    heads = ["run", *(title for _, title in keys)]
    rows = []
    for name, res in zip(names, results, strict=True):
        cells = [name]
        for key, _ in keys:
            v = res.header.get(key)
            cells.append(", ".join(map(str, v)) if isinstance(v, list) else "n/a" if v in (None, "") else str(v))
        rows.append(cells)
    # Facts datasets have none of these columns: their results are in their own run sections.
    backdoor = [
        (name, aggregate_runs([r for r in res.runs if not r.is_facts]))
        for name, res in zip(names, results, strict=True)
    ]
    md, html = format_comparison(backdoor)
    facts = any(r.is_facts for res in results for r in res.runs)
    blocks: list[Block] = [
        Heading(2, "Comparison of runs"),
        Para("Setups side by side (numbers from different machines or versions are not directly comparable):"),
        Table(
            markdown_table(heads, rows, n_text=len(heads)),
            html_table(heads, rows, n_text=len(heads), css_class="settings"),  # hashes and dates may break
        ),
    ]
    if any(group_rows for _, group_rows in backdoor):
        blocks += [Para(f"Results side by side, one row per dataset, method and run ({SPREAD_NOTE}):"), Table(md, html)]
    if facts:
        blocks.append(Note("facts datasets are not in a side-by-side table: see each run's facts sections."))
    return blocks
