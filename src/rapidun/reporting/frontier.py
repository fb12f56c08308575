"""The report's matched-perplexity frontier (docs/method.md section 7): an ASR-vs-perplexity figure with one line
per swept method and one point per seed, and two tables read from ``results.json``'s ``frontier`` block: each
method's test ASR at every perplexity budget (95% bootstrap interval over seeds and prompts), and the paired
differences between methods with a "within noise" mark when the interval contains 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from rapidun.reporting.document import Block, Note, Para, Table
from rapidun.reporting.figure_style import GREY, PALETTE, PlotResult, figure, to_png
from rapidun.reporting.tables import html_table, markdown_table, method_rank

SPLITS = (("seen", "seen triggers"), ("ood", "OOD triggers"))
MAX_RATIO = 2.0  # x-axis cap: a collapsed sweep end (ratio 1e3) would squeeze the budgets into one pixel
# an operating point mixing two settings whose validation ASR differs by more than this sits on a cliff: the mixture
# is achievable (run one or the other), but a setting between them may do better, so the table says so
CLIFF = 0.15


def _methods(block: dict[str, Any]) -> list[str]:
    return sorted(block.get("methods", {}), key=method_rank)


def _path(method: dict[str, Any], split: str) -> tuple[list[float], list[float]]:
    """Seed means of (test PPL ratio, test ASR %) at every position of the sweep path, in path order."""
    xs, ys = [], []
    for label in method["labels"]:
        pts = [p for p in method["points"] if p["label"] == label]
        xs.append(float(np.mean([p["test_ratio"] for p in pts])))
        ys.append(100 * float(np.mean([p[f"test_asr_{split}"] for p in pts])))
    return xs, ys


def frontier_figure(block: dict[str, Any], budgets: list[str], name: str) -> PlotResult:
    title = "Matched-perplexity frontier"
    caption = (
        "Test ASR against test clean-perplexity ratio to the backdoored model along each method's strength sweep "
        "(line: seed means, from the backdoored model through the weakest to the strongest setting; dots: single "
        "seeds). Dashed lines: the perplexity budgets; stars: the test ASR at each budget, at the operating point "
        "chosen on validation. Lower left is better."
    )
    methods = _methods(block)
    if not methods:
        return PlotResult(name, title, caption, None, "skipped: no method has a complete sweep with validation")
    with figure(10.0, 4.4) as fig:
        axes = fig.subplots(1, 2, sharey=True, sharex=True)
        for ax, (split, words) in zip(axes, SPLITS, strict=True):
            for i, m in enumerate(methods):
                color = PALETTE[i % len(PALETTE)]
                method = block["methods"][m]
                xs, ys = _path(method, split)
                ax.plot(xs, ys, color=color, marker="o", markersize=4, linewidth=1.4, label=m)
                pts = method["points"]
                ax.scatter(
                    [p["test_ratio"] for p in pts],
                    [100 * p[f"test_asr_{split}"] for p in pts],
                    color=color,
                    s=9,
                    alpha=0.4,
                )
                for b in budgets:
                    at = method["budgets"][b][split]
                    ax.plot(
                        [at["test_ratio"]],
                        [100 * at["asr"]],
                        marker="*",
                        markersize=11,
                        color=color,
                        markeredgecolor="black",
                        markeredgewidth=0.5,
                        linestyle="",
                    )
            for b in budgets:
                ax.axvline(float(b), color=GREY, linestyle="--", linewidth=0.8)
                ax.text(float(b), 101, f" +{100 * (float(b) - 1):.0f}%", color=GREY, fontsize=8, va="top")
            ax.set_xlabel("clean-perplexity ratio to the backdoored model (test)")
            ax.set_title(f"ASR on {words}", loc="left")
        top = max(p["test_ratio"] for m in methods for p in block["methods"][m]["points"])
        axes[0].set_xlim(right=min(max(top, *map(float, budgets)) * 1.03, MAX_RATIO))
        axes[0].set_ylabel("ASR (%), test — lower is better")
        axes[0].set_ylim(-3, 103)
        axes[1].legend(loc="upper right", frameon=False)
        png = to_png(fig)
    note = f"points above a perplexity ratio of {MAX_RATIO:g} lie off the axis" if top > MAX_RATIO else None
    return PlotResult(name, title, caption, png, note)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _interval(entry: dict[str, Any], key: str) -> str:
    low, high = entry["ci95"]
    return f"{_pct(entry[key])} [{_pct(low)}, {_pct(high)}]"


def _ratio(entry: dict[str, Any], key: str) -> str:
    """A perplexity ratio (or difference of ratios) with its interval when the block has one."""
    ci = entry.get(f"{key.removesuffix('_diff')}_ci95")
    text = f"{entry[key]:.3f}" if key in entry else "n/a"
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and key in entry else text


def budget_table(block: dict[str, Any], budgets: list[str]) -> Table:
    """One row per (method, budget): test seen/OOD ASR (%) with 95% interval, PPL ratio, where on the sweep."""
    heads = ["method", "budget", "seen ASR % [95% CI]", "OOD ASR % [95% CI]", "test PPL ratio [95% CI]", "seen point"]
    heads.append("seeds")
    rows = []
    for m in _methods(block):
        method = block["methods"][m]
        for b in budgets:
            seen, ood = method["budgets"][b]["seen"], method["budgets"][b]["ood"]
            lo, hi = seen["between"]
            where = lo if seen["t"] == 0 else f"{lo} + {seen['t']:.2f} toward {hi}"
            where += "" if seen["budget_reached"] else " (budget not reached)"
            if seen.get("val_asr_drop", 0.0) > CLIFF:
                where += f" (across a {_pct(seen['val_asr_drop'])}-point drop in val ASR: a finer sweep may do better)"
            seeds = ", ".join(map(str, method["seeds"]))
            rows.append(
                [
                    m,
                    f"+{100 * (float(b) - 1):.0f}%",
                    _interval(seen, "asr"),
                    _interval(ood, "asr"),
                    _ratio(seen, "test_ratio"),
                    where,
                    seeds,
                ]
            )
    return Table(markdown_table(heads, rows, n_text=2), html_table(heads, rows, n_text=2))


def difference_table(block: dict[str, Any], budgets: list[str]) -> Table | None:
    """One row per ordered pair of methods and budget: paired ASR difference (points of %) with its interval."""
    heads = ["method", "vs", "budget", "Δ seen ASR [95% CI]", "Δ OOD ASR [95% CI]", "Δ test PPL ratio (seen point)"]
    rows = []
    methods = _methods(block)
    for m in methods:
        for other in methods:
            for b in budgets:
                entries = [block["methods"][m]["budgets"][b][s].get("vs", {}).get(other) for s, _ in SPLITS]
                if other == m or None in entries:
                    continue
                cells = [_interval(e, "diff") + (" (within noise)" if e["within_noise"] else "") for e in entries if e]
                cells.append(_ratio(entries[0], "test_ratio_diff") if entries[0] else "n/a")
                rows.append([m, other, f"+{100 * (float(b) - 1):.0f}%", *cells])
    if not rows:
        return None
    return Table(markdown_table(heads, rows, n_text=3), html_table(heads, rows, n_text=3))


def frontier_blocks(frontier: dict[str, Any] | None, dataset: str) -> tuple[list[Block], dict[str, Any] | None]:
    """The frontier text and tables of one dataset, and its block (for the figure), or ([], None) when absent."""
    if not frontier or dataset not in frontier.get("datasets", {}):
        return [], None
    block = frontier["datasets"][dataset]
    budgets = [str(b) for b in frontier.get("budgets", [])]
    out: list[Block] = [Note(n) for n in block.get("notes", [])]
    if not _methods(block):
        return out, None
    spread = frontier.get("spread", "95% bootstrap interval")
    out += [
        Para(
            "Test ASR at matched clean-perplexity increase: each method's operating point is chosen on validation "
            "prompts (the lowest validation ASR along its strength sweep within the budget; see "
            f"docs/method.md section 7) and its test ASR reported there. Intervals: {spread}."
        ),
        budget_table(block, budgets),
    ]
    if "sources" in block:  # one row per source against the reference, instead of every pair of sources
        from rapidun.reporting.sources import source_blocks

        return out + source_blocks(block, budgets, spread), block
    diffs = difference_table(block, budgets)
    if diffs is not None:
        out += [Para(f"Paired differences (row method minus `vs` method, points of %); intervals: {spread}."), diffs]
    return out, block
