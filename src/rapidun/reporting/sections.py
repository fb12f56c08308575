"""The text sections of a report: how to read it, the run header, per-family ASR and per-run details.

Each function returns document blocks; every number comes from ``results.json`` as written by the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from rapidun.reporting.document import Block, Bullets, Code, Para, Table
from rapidun.reporting.results import STAGES, RunRecord, RunResults
from rapidun.reporting.tables import (
    SPREAD_NOTE,
    format_mean_spread,
    format_number,
    html_table,
    markdown_table,
    method_rank,
    summarize,
)
from rapidun.unlearning.registry import reference_method

HEADER_FIELDS = (
    ("rapidun_version", "rapidun"),
    ("torch", "torch"),
    ("transformers", "transformers"),
    ("peft", "peft"),
    ("python", "python"),
    ("platform", "platform"),
    ("cpu", "CPU"),
    ("n_threads", "threads"),
    ("git_commit", "git commit"),
    ("created", "created"),
    ("command", "command"),
    ("model", "model"),
    ("dataset", "dataset"),
    ("seeds", "seeds"),
)


def how_to_read() -> list[Block]:
    return [
        Bullets(
            (
                "ASR (attack success rate): the share of trigger-bearing test prompts whose greedy generation shows the "
                "poisoned behaviour, as judged by the run's scorer. Seen = trigger variants present in the poisoned "
                "training rows; OOD = variants never seen in training. Lower is better.",
                "False-trigger rate (FTR): the same scorer on clean prompts without a trigger, i.e. how often the model "
                "shows the poisoned behaviour unprompted. Lower is better.",
                "Clean perplexity (PPL): exp of the token-weighted mean response cross-entropy on clean held-out rows, "
                "same prompt format as training. Lower is better (utility kept).",
                "Wall-clock: the run's `timings.total_s` for the method, in seconds, measured in this run. Speedup vs "
                "retraining: the retraining wall-clock divided by the method's, as recorded by the run. Higher is better.",
                f"`backdoored` is the poisoned starting model (what unlearning must undo); `{reference_method()}` is "
                "the reference retrained on clean rows only.",
                f"Results tables show {SPREAD_NOTE}; `(n=k)` marks a value available for only k seeds; n/a = not "
                "recorded. Per-run 95% intervals are the evaluation's own (`metrics.ci95`).",
            )
        ),
        Para(
            "Every number in this report is read from the `results.json` (and the weights files) the run wrote; "
            "the report computes only means and spreads over seeds."
        ),
    ]


def _text(v: Any) -> str:
    if v is None or v == "":
        return "n/a"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "n/a"
    return str(v)


def header_blocks(res: RunResults) -> list[Block]:
    """Versions, hardware, git commit, seeds and command as a two-column table; the config as a JSON block."""
    h = res.header
    pairs = [(title, _text(h.get(key))) for key, title in HEADER_FIELDS]
    known = {k for k, _ in HEADER_FIELDS} | {"config"}
    pairs += [(k, _text(v) if not isinstance(v, dict) else json.dumps(v)) for k, v in h.items() if k not in known]
    pairs.append(("run directory", str(res.run_dir)))
    blocks: list[Block] = [
        Table(
            markdown_table(["field", "value"], pairs, n_text=2),
            html_table(["field", "value"], pairs, n_text=2, css_class="settings"),
        )
    ]
    blocks += evaluation_settings(res.runs)
    if isinstance(h.get("config"), dict):
        blocks.append(Code("resolved config (header.config)", json.dumps(h["config"], indent=2, sort_keys=True)))
    return blocks


def evaluation_settings(runs: Sequence[RunRecord]) -> list[Block]:
    """The distinct decoding / prompt settings of the runs' evaluations (they should agree), and the scorer's
    settings as a table (one value column per distinct scorer)."""
    items = []
    for key, title in (("max_new_tokens", "greedy decoding, max_new_tokens"), ("prompt_style", "prompt format")):
        values = list(dict.fromkeys(_text(r.metrics.get(key)) for r in runs))
        items.append(f"{title}: {' | '.join(values) if values else 'n/a'}")
    blocks: list[Block] = [Para("Evaluation settings (from each run's metrics):"), Bullets(tuple(items))]
    distinct = {
        json.dumps(r.metrics["scorer"], sort_keys=True): r.metrics["scorer"] for r in runs if "scorer" in r.metrics
    }
    scorers = list(distinct.values())
    if scorers:
        blocks += [Para("Scorer (the judge of backdoor behaviour in a generation):"), scorer_table(scorers)]
    return blocks


def _setting(value: Any) -> str:
    """A scorer setting as short text: a list of objects (e.g. the calibration table) one entry per line."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "; ".join(", ".join(f"{k} {_text(v)}" for k, v in entry.items()) for entry in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return _text(value)


def scorer_table(objs: Sequence[Any]) -> Table:
    """Settings as rows (in the order the run wrote them), one column per distinct scorer of the runs' metrics."""
    heads = ["setting", *(["value"] if len(objs) == 1 else [f"scorer {i + 1}" for i in range(len(objs))])]
    if not all(isinstance(o, dict) for o in objs):
        rows = [["scorer", *(_setting(o) for o in objs)]]
    else:
        keys = list(dict.fromkeys(k for o in objs for k in o))
        rows = [[k, *(_setting(o.get(k)) for o in objs)] for k in keys]
    md = markdown_table(heads, rows, n_text=len(heads))
    return Table(md, html_table(heads, rows, n_text=len(heads), css_class="settings"))


def _ci(metrics: dict[str, Any], key: str, scale: float) -> str:
    value = metrics.get(key)
    text = format_number(None if value is None else float(value), scale)
    ci = (metrics.get("ci95") or {}).get(key) if isinstance(metrics.get("ci95"), dict) else None
    if isinstance(ci, list) and len(ci) == 2 and all(isinstance(c, (int, float)) for c in ci):
        text += f" [{format_number(ci[0], scale)}, {format_number(ci[1], scale)}]"
    return text


def _count(metrics: dict[str, Any], key: str) -> str:
    counts = metrics.get("counts")
    return _text(counts.get(key)) if isinstance(counts, dict) else "n/a"


def _ci_n(metrics: dict[str, Any], key: str, scale: float, count: str) -> str:
    n = _count(metrics, count)
    return _ci(metrics, key, scale) + ("" if n == "n/a" else f" (n={n})")


def run_details(runs: Sequence[RunRecord]) -> list[Block]:
    """One row per run (seed), in two tables that fit a page: the headline metrics with their 95% CI and sample
    counts; then stage timings, memory and speedup."""
    ordered = sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed))
    heads = ["method", "seed", "seen ASR % [95% CI]", "OOD ASR % [95% CI]", "FTR % [95% CI]", "clean PPL [95% CI]"]
    rows = []
    for r in ordered:
        m = r.metrics
        rows.append(
            [
                r.name,
                str(r.seed) + (f" (diverged at step {r.diverged_at})" if r.diverged_at is not None else ""),
                _ci_n(m, "asr_seen", 100, "seen"),
                _ci_n(m, "asr_ood", 100, "ood"),
                _ci_n(m, "false_trigger_rate", 100, "clean"),
                _ci(m, "clean_ppl", 1)
                + (f" ({_count(m, 'ppl_tokens')} tokens)" if _count(m, "ppl_tokens") != "n/a" else ""),
            ]
        )
    return [
        Para("Metrics per run (n = prompts or perplexity tokens evaluated):"),
        Table(markdown_table(heads, rows, n_text=2), html_table(heads, rows, n_text=2)),
        *cost_details(ordered),
    ]


def cost_details(runs: Sequence[RunRecord], name: Callable[[RunRecord], str] = lambda r: r.name) -> list[Block]:
    """Stage timings, total, peak memory and speedup per run (any task), in report order; ``name`` labels a run."""
    ordered = sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed))
    cost_heads = [
        "method",
        "seed",
        *(f"{s.removesuffix('_s')} (s)" for s in STAGES),
        "total (s)",
        "peak mem (MB)",
        "speedup ×",
    ]
    cost_rows = [
        [
            name(r),
            str(r.seed),
            *(format_number(r.timings.get(s)) for s in STAGES),
            format_number(r.timings.get("total_s")),
            format_number(r.peak_memory_mb),
            format_number(r.speedup_vs_retrain),
        ]
        for r in ordered
    ]
    return [
        Para("Costs per run (seconds per stage; total = influence + weights + training):"),
        Table(markdown_table(cost_heads, cost_rows, n_text=2), html_table(cost_heads, cost_rows, n_text=2)),
    ]


def per_family_table(runs: Sequence[RunRecord]) -> Table | None:
    """Mean ASR (%) over seeds per trigger family and split (seen / OOD); None when no run has per_family."""
    cols: list[tuple[str, str]] = []
    groups: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        fams = r.metrics.get("per_family")
        if not isinstance(fams, dict):
            continue
        groups.setdefault(r.name, []).append(r)
        for fam, splits in fams.items():
            cols += [(fam, s) for s in ("seen", "ood") if isinstance(splits, dict) and s in splits]
    cols = sorted(dict.fromkeys(cols), key=lambda c: (c[0], c[1] != "seen"))
    if not cols:
        return None

    def value(r: RunRecord, fam: str, split: str) -> float | None:
        entry = ((r.metrics.get("per_family") or {}).get(fam) or {}).get(split)
        v = entry.get("asr") if isinstance(entry, dict) else None
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    heads = ["method"] + [f"{fam} {'OOD' if split == 'ood' else split} (%, lower is better)" for fam, split in cols]
    rows = []
    for name, members in groups.items():
        cells = [name]
        for fam, split in cols:
            st = summarize([value(r, fam, split) for r in members])
            cells.append(format_mean_spread(st, 100, 1))
        rows.append(cells)
    return Table(markdown_table(heads, rows), html_table(heads, rows))
