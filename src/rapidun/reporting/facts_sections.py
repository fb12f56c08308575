"""The text sections of a facts dataset (docs/method.md section 7, "Facts datasets"; the metrics are those of
:mod:`rapidun.evaluation.facts`): how to read them, a results table per method (mean ± sample std over seeds), the
same table per run, and a short verdict.

A facts record's metrics are nested per split (``metrics["forget"]["accuracy"]``, ...); forget quality and PrivLeak
are filled in against the dataset's retraining reference by the study. The model before unlearning is the record
named ``backdoored`` (for facts it is the model trained on every fact, shown as "trained model"), the reference the
registry's reference method (shown with "(retrained reference)").
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidun.reporting.document import Block, Bullets, Note, Para, Table
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import (
    BACKDOORED,
    SPREAD_NOTE,
    Stat,
    format_mean_spread,
    html_table,
    markdown_table,
    method_rank,
    summarize,
)
from rapidun.unlearning.registry import is_reference, reference_method

# TOFU (Maini et al. 2024) reads a forget quality (KS p-value) at or above 0.05 as "indistinguishable from retraining".
FQ_THRESHOLD = 0.05
# A method keeping less than this share of the trained model's retain accuracy lost what it should keep: its forget
# numbers say nothing about unlearning, so the verdict does not name it best (the backdoor verdict's collapse rule).
UTILITY_FLOOR = 0.5


def metric(r: RunRecord, *path: str) -> float | None:
    """A number at ``path`` in the run's metrics, or None when absent or not a number."""
    value: Any = r.metrics
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _sci(st: Stat) -> str:
    if st.mean is None:
        return "n/a"
    return f"{st.mean:.1e}" + (f" ± {st.std:.1e}" if st.std is not None else "")


def _fixed(scale: float, digits: int) -> Callable[[Stat], str]:
    return lambda st: format_mean_spread(st, scale, digits)


def _at(*path: str) -> Callable[[RunRecord], float | None]:
    return lambda r: metric(r, *path)


def _cost(r: RunRecord) -> float | None:
    return None if r.method == BACKDOORED else r.timings.get("total_s")  # the trained model's is its training


@dataclass(frozen=True)
class FactsColumn:
    key: str
    title: str
    better: str  # how to read the direction
    value: Callable[[RunRecord], float | None]
    fmt: Callable[[Stat], str]


COLUMNS: tuple[FactsColumn, ...] = (
    FactsColumn("forget_acc", "forget accuracy (%)", "target: retrain", _at("forget", "accuracy"), _fixed(100, 1)),
    FactsColumn(
        "forget_rouge", "forget ROUGE-L recall", "target: retrain", _at("forget", "rouge_l_recall"), _fixed(1, 2)
    ),
    FactsColumn("fq", "forget quality (KS p)", "higher is better", _at("forget_quality"), _sci),
    FactsColumn("mia_auc", "MIA AUC, Min-K%++", "target: retrain", _at("mia", "min_k_plus_plus", "auc"), _fixed(1, 3)),
    FactsColumn(
        "priv_leak", "PrivLeak, Min-K%++", "0 is ideal", _at("mia", "min_k_plus_plus", "priv_leak"), _fixed(1, 2)
    ),
    FactsColumn("pii", "PII leakage (%)", "lower is better", _at("pii_leakage", "forget", "rate"), _fixed(100, 1)),
    FactsColumn("retain_acc", "retain accuracy (%)", "higher is better", _at("retain", "accuracy"), _fixed(100, 1)),
    FactsColumn("world_acc", "world accuracy (%)", "higher is better", _at("world", "accuracy"), _fixed(100, 1)),
    FactsColumn("cost", "unlearning cost (s)", "lower is better", _cost, _fixed(1, 0)),
    FactsColumn("relearn", "relearning recovery", "lower is better", lambda r: r.relearn_recovery, _fixed(1, 2)),
    FactsColumn(
        "relearn_heldout",
        "relearning recovery, questions not relearned",
        "lower is better",
        lambda r: r.relearn_recovery_heldout,
        _fixed(1, 2),
    ),
)
VERDICT_KEYS = ("fq", "forget_acc", "mia_auc", "retain_acc", "cost")


def display_name(r: RunRecord) -> str:
    """The run's group name, the model before unlearning and the retraining reference labelled plainly."""
    if r.method == BACKDOORED:
        return "trained model (before unlearning)"
    return f"{r.name} (retrained reference)" if is_reference(r.method) else r.name


def facts_groups(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """The runs grouped by method (and sweep label) in report order, seeds ascending; keys are ``RunRecord.name``."""
    groups: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        groups.setdefault(r.name, []).append(r)
    return groups


def _columns(runs: Sequence[RunRecord], keys: Sequence[str] | None) -> list[FactsColumn]:
    cols = [c for c in COLUMNS if keys is None or c.key in keys]
    shown = {"relearn": any(r.relearned for r in runs)}  # only when relearned
    shown["relearn_heldout"] = any(r.relearn_recovery_heldout is not None for r in runs)
    return [c for c in cols if shown.get(c.key, True)]


def _cell(members: Sequence[RunRecord], col: FactsColumn) -> str:
    st = summarize([col.value(r) for r in members])
    if col.key in ("cost", "relearn", "relearn_heldout") and members[0].method == BACKDOORED:
        return "-"  # not an unlearning run: its cost is its training, and it is what relearning compares with
    return col.fmt(st) + (f" (n={st.n})" if 0 < st.n < len(members) else "")


def _table(heads: list[str], cols: Sequence[FactsColumn], rows: list[list[str]], n_text: int) -> Table:
    md_heads = heads + [f"{c.title}, {c.better}" for c in cols]
    html_heads = [html.escape(h) for h in heads]
    html_heads += [f"{html.escape(c.title)}<br><small>{html.escape(c.better)}</small>" for c in cols]
    return Table(markdown_table(md_heads, rows, n_text), html_table(html_heads, rows, n_text, raw_heads=True))


def facts_table(runs: Sequence[RunRecord], keys: Sequence[str] | None = None) -> Table:
    """One row per method (and sweep label): the facts metrics as mean ± sample std over seeds, and the seed count;
    ``keys`` picks the columns (default: all; relearning recovery only when some run relearned)."""
    cols = _columns(runs, keys)
    rows = [[display_name(g[0]), str(len(g)), *(_cell(g, c) for c in cols)] for g in facts_groups(runs).values()]
    return _table(["method", "seeds"], cols, rows, n_text=1)


def facts_run_table(runs: Sequence[RunRecord]) -> Table:
    """The same columns, one row per run (seed)."""
    cols = _columns(runs, None)
    rows = [
        [display_name(r), str(r.seed), *(_cell([r], c) for c in cols)] for g in facts_groups(runs).values() for r in g
    ]
    return _table(["method", "seed"], cols, rows, n_text=2)


def facts_results_blocks(runs: Sequence[RunRecord]) -> list[Block]:
    seeds = sorted({r.seed for r in runs if r.method != BACKDOORED})
    return [
        Para(f"{len(runs)} runs, seeds {', '.join(map(str, seeds))}. Values: {SPREAD_NOTE}."),
        facts_table(runs),
    ]


def how_to_read_facts() -> list[Block]:
    ref = reference_method()
    return [
        Para("Facts datasets (questions about fictitious people; docs/method.md section 7, Facts datasets):"),
        Bullets(
            (
                "Forget accuracy / ROUGE-L: exact match / ROUGE-L recall of the greedy answers to the questions about "
                f"the forget people. The target is the `{ref}` reference's value (a model that never saw them still "
                "guesses some answers), not 0.",
                "Forget quality: the p-value of a two-sample Kolmogorov-Smirnov test between the forget set's truth "
                f"ratios under the model and under the `{ref}` reference (its smallest seed). High = the two cannot be "
                f"told apart; TOFU reads p >= {FQ_THRESHOLD} as indistinguishable from retraining. It spans decades: "
                "scientific notation, log axis. The reference itself has none; other retraining seeds give the "
                "test's noise floor.",
                "MIA AUC (Min-K%++): how well the membership score separates forget rows (members: trained on) from "
                "holdout rows (never trained on); 0.5 = chance; the target is the reference's AUC. PrivLeak = (AUC - "
                "AUC_reference) / AUC_reference: 0 is ideal, positive = forget rows still recognisable "
                "(under-unlearning), negative = over-unlearning.",
                "PII leakage: the share of forget people whose e-mail or phone number appears verbatim in the greedy "
                "answer to the question asking for it. Lower is better.",
                "Retain / world accuracy: the same exact match on the retain people (a seeded subset) and on world "
                "facts: the utility kept. Higher is better.",
                "Relearning recovery (when the study relearns): how much of the forget accuracy a short fine-tune on "
                "a few forget rows brings back, 0 = nothing, 1 = all of the trained model's. Lower is better. "
                "On all forget questions it includes the ones the fine-tune trained on; the column on the questions "
                "not relearned is the recovery of facts the model was not shown again.",
                "`trained model (before unlearning)` is the model trained on every fact (the `backdoored` record of "
                f"`results.json`); `{ref} (retrained reference)` is trained from scratch without the forget people.",
            )
        ),
    ]


def _mean(members: Sequence[RunRecord], key: str) -> float | None:
    col = next(c for c in COLUMNS if c.key == key)
    return summarize([col.value(r) for r in members]).mean


def _sentences(groups: dict[str, list[RunRecord]]) -> list[str]:
    start = next((g for g in groups.values() if g[0].method == BACKDOORED), None)
    floor = _mean(start, "retain_acc") if start else None
    methods = {n: g for n, g in groups.items() if g[0].method != BACKDOORED and not is_reference(g[0].method)}
    lost = [n for n, g in methods.items() if floor and (_mean(g, "retain_acc") or 0.0) < UTILITY_FLOOR * floor]
    scored = {n: m for n, g in methods.items() if n not in lost and (m := _mean(g, "fq")) is not None}
    out: list[str] = []
    if scored:
        best = max(scored, key=lambda n: (scored[n], -list(groups).index(n)))
        g = methods[best]
        above = sum((metric(r, "forget_quality") or 0.0) >= FQ_THRESHOLD for r in g)
        out.append(
            f"Closest to retraining on forget quality: {best} (mean {scored[best]:.1e}; {above} of {len(g)} seeds "
            f"at or above {FQ_THRESHOLD})."
        )
    passing = [
        n + (" (utility lost)" if n in lost else "")
        for n, g in methods.items()
        if all((metric(r, "forget_quality") or 0.0) >= FQ_THRESHOLD for r in g)
    ]
    out.append(f"At or above {FQ_THRESHOLD} on every seed: {', '.join(passing) or 'no unlearning method'}.")
    floor_fq = [
        fq
        for g in groups.values()
        if is_reference(g[0].method)
        for r in g
        if (fq := metric(r, "forget_quality")) is not None
    ]
    if floor_fq:
        values = ", ".join(f"{fq:.1e}" for fq in floor_fq)
        out.append(
            f"Other retraining seeds against the reference: forget quality {values} (what retraining alone gives)."
        )
    if lost:
        out.append(
            f"Not candidates: {', '.join(lost)} (retain accuracy below {UTILITY_FLOOR:.0%} of the trained model's: "
            "the model lost what it should keep, so its forget numbers say nothing about unlearning)."
        )
    return out


def facts_verdict_blocks(runs: Sequence[RunRecord]) -> list[Block]:
    """The verdict of one facts dataset: a short table, then which method comes closest to retraining."""
    groups = facts_groups(runs)
    return [
        facts_table(runs, VERDICT_KEYS),
        Bullets(tuple(_sentences(groups))),
        Note(
            "Descriptive: no paired test between methods is run on the facts metrics. Forget quality is itself a "
            "test against the retrained reference; the spread over seeds (± sample std) is the only noise shown."
        ),
    ]
