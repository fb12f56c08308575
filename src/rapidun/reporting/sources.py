"""The report's forget-source tables (docs/method.md section 7, "Forget sources"), read from the ``sources`` block
of a dataset's frontier in ``results.json``: how well each trace found the poisoned rows, and, per method and
source at each perplexity budget, test ASR, false triggers and per-family ASR with the paired difference to the
reference (oracle) source."""

from __future__ import annotations

from typing import Any

from rapidun.reporting.document import Block, Para, Table
from rapidun.reporting.tables import html_table, markdown_table


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _iv(entry: dict[str, Any] | None, key: str = "value") -> str:
    if not entry:
        return "n/a"
    low, high = entry["ci95"]
    noise = " (within noise)" if entry.get("within_noise") else ""
    return f"{_pct(entry[key])} [{_pct(low)}, {_pct(high)}]{noise}"


def _budget(b: str) -> str:
    return f"+{100 * (float(b) - 1):.0f}%"


def quality_table(sources: dict[str, Any]) -> Table:
    """One row per source: where its forget rows come from and, for a trace, its quality against the labels."""
    heads = ["source", "ranker", "reports", "report families", "forget rows (by family)", "ROC AUC", "P@n_pois"]
    heads += ["R@n_pois"]
    heads += ["P@forget", "R@forget"]
    rows = []
    for name, t in sources["traces"].items():
        if t["kind"] == "oracle":
            rows.append([name, "oracle (pack forget set)", "", "", "", "", "", "", "", ""])
            continue
        q = t.get("quality") or {}
        fams = ", ".join(f"{f} x{n}" for f, n in t["report_families"].items())
        at_n, at_f = q.get("at_n_poisoned", {}), q.get("at_forget", {})
        rows.append(
            [
                name,
                t["ranker"],
                f"{t['reports']} val_{t['split']}",
                fams,
                f"{t['forget_n']} ({', '.join(f'{f} {n}' for f, n in t.get('forget_families', {}).items())})",
                f"{q['roc_auc']:.3f}" if q else "n/a",
                *(f"{d[k]:.2f}" if d else "n/a" for d in (at_n, at_f) for k in ("precision", "recall")),
            ]
        )
    return Table(markdown_table(heads, rows, n_text=4), html_table(heads, rows, n_text=4))


def outcome_table(block: dict[str, Any], sources: dict[str, Any], budgets: list[str]) -> Table:
    """One row per (method, source, budget): test ASR and false triggers at the validation-chosen point, and the
    paired differences to the reference source (points of %)."""
    heads = ["method", "source", "budget", "seen ASR % [95% CI]", "OOD ASR %", "false-trigger %", "test PPL ratio"]
    heads += ["Δ seen vs ref", "Δ OOD vs ref", "Δ false-trigger vs ref"]
    rows = []
    for group, cell in sources["cells"].items():
        front = block["methods"][group]
        for b in budgets:
            at, seen, ood = cell["budgets"][b], front["budgets"][b]["seen"], front["budgets"][b]["ood"]
            rows.append(
                [
                    cell["method"],
                    cell["source"],
                    _budget(b),
                    _iv(seen, "asr"),
                    _iv(ood, "asr"),
                    _iv(at["false_trigger"]),
                    f"{seen['test_ratio']:.3f}",
                    _iv(at["seen"].get("vs_reference"), "diff"),
                    _iv(at["ood"].get("vs_reference"), "diff"),
                    _iv(at["false_trigger"].get("vs_reference"), "diff"),
                ]
            )
    return Table(markdown_table(heads, rows, n_text=3), html_table(heads, rows, n_text=3))


def family_table(sources: dict[str, Any], budgets: list[str]) -> Table:
    """Seen-trigger test ASR per trigger family at each (method, source)'s seen point: does forgetting reach
    the families no report showed?"""
    families = sorted(sources["backdoored_per_family"]["seen"])
    heads = ["method", "source", "budget", *(f"{f} seen %" for f in families), *(f"{f} OOD %" for f in families)]
    before = sources["backdoored_per_family"]
    rows = [["backdoored", "", "", *(_pct(before[s][f]["value"]) for s in ("seen", "ood") for f in families)]]
    for cell in sources["cells"].values():
        for b in budgets:
            at = cell["budgets"][b]
            vals = [_iv(at[s]["per_family"].get(f)) for s in ("seen", "ood") for f in families]
            rows.append([cell["method"], cell["source"], _budget(b), *vals])
    return Table(markdown_table(heads, rows, n_text=3), html_table(heads, rows, n_text=3))


def source_blocks(block: dict[str, Any], budgets: list[str], spread: str) -> list[Block]:
    """The forget-source part of a dataset's frontier section."""
    sources = block["sources"]
    ref = sources.get("reference") or "none"
    return [
        Para(
            "Forget sources: each trace ranks the training rows against reports drawn from the pack's validation "
            "triggered prompts (the backdoored model's own greedy answers as responses); precision / recall at k = "
            "the number of poisoned training rows and at the forget size, against the rows' is_poisoned labels."
        ),
        quality_table(sources),
        Para(
            f"Per method and forget source at each perplexity budget (points chosen on validation; test values). "
            f"False triggers at the seen point. Δ: row minus the reference source '{ref}' at the same budget, "
            f"paired over seeds and prompts. Intervals: {spread}."
        ),
        outcome_table(block, sources, budgets),
        Para("Test ASR per trigger family (%) at each source's operating point (seen point for seen, OOD for OOD):"),
        family_table(sources, budgets),
    ]
