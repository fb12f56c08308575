"""Forget sources of a study (docs/method.md section 7, "Forget sources"): where each unlearning cell's forget and
retain rows come from.

    forget_sources:
    - {name: oracle, kind: oracle}                              # the pack's forget.jsonl / retain.jsonl
    - {name: infl10, kind: trace, reports: 10, k_factor: 1}     # traced from 10 validation reports
    - {name: bm25, kind: trace, ranker: bm25, reports: 10, k_factor: 1}
    - {name: random, kind: trace, ranker: random, reports: 10, k_factor: 1}
    - {name: infl10_A, kind: trace, reports: 10, families: [A_surface], k_factor: 1}
    - {name: infl10_ood, kind: trace, reports: 10, split: ood, k_factor: 1}

A ``trace`` source draws its reports from the pack's VALIDATION triggered prompts (``val_seen.jsonl`` or
``val_ood.jsonl``, optionally of some trigger families only; a seeded sample), never from the test splits the
cells are scored on; each report's response is the backdoored model's own greedy output (what a user saw), and by
default (``reports_from: fired``) only prompts whose greedy output the pack's scorer flags are drawn: a user
reports the prompts on which the model misbehaved, not the triggered prompts it answered normally. It
runs ``rapidun trace`` (:func:`rapidun.tracing.trace`) on the backdoored model over the pack's training rows and
takes the trace's proposed forget and retain sets. Each source's trace is computed once per dataset under
``OUT/<dataset>/traces/<name>/`` (reused when finished, like every study stage), and every trace of a dataset
shares one training-row gradient cache (``OUT/<dataset>/traces/cache``). The training rows keep the pack's fields,
so a traced poisoned row carries its ``response_clean`` exactly as the oracle's forget row does: sources differ
only in which rows they pick.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidun.data.rows import Row
from rapidun.errors import RapidunError
from rapidun.settings import from_mapping, setting
from rapidun.tracing.config import RANKER_NAMES, TraceConfig

SOURCE_KINDS = ("oracle", "trace")
REPORT_SPLITS = ("seen", "ood")
REPORTS_FROM = ("fired", "any")
RETAIN_FROM = (None, "oracle")  # None: the trace's proposed retain rows
WHERE = "study config"
# set by the source's own fields (ranker, k) or by the study (the backdoor's max_length and prompt_style)
_OWN_TRACE_KEYS = ("ranker", "k")


@dataclass(frozen=True)
class ForgetSource:
    """One forget source: the pack's forget set (``oracle``) or a trace from validation reports (``trace``)."""

    name: str = setting(help="source name (in cell directories, results and the report)")
    kind: str = setting(
        "trace", "oracle: the pack's forget/retain rows; trace: traced from reports", choices=SOURCE_KINDS
    )
    ranker: str = setting("influence", "trace ranker", choices=RANKER_NAMES)
    reports: int = setting(10, "reports drawn from the pack's validation triggered prompts")
    split: str = setting(
        "seen", "reports with seen (val_seen) or OOD (val_ood) trigger variants", choices=REPORT_SPLITS
    )
    families: tuple[str, ...] = setting((), "trigger families the reports come from (empty: every family)")
    report_seed: int = setting(0, "seed of the reports' draw")
    reports_from: str = setting(
        "fired",
        "fired: only prompts on which the backdoored model's greedy answer shows the behaviour (the pack's scorer), "
        "as a user would report them; any: every validation triggered prompt (also those it answered normally)",
        choices=REPORTS_FROM,
    )
    k: int | None = setting(None, "forget size (not with k_factor; neither: the trace's data-driven cut-off)")
    k_factor: float | None = setting(None, "forget size as a multiple of the oracle forget set's size")
    trace: dict[str, Any] = setting(help="other trace settings (TraceConfig: aggregate, projector, ...)", factory=dict)
    retain_from: str | None = setting(
        None,
        "the retain rows of a traced source: none = the trace's own proposal (its lowest-scoring rows, what a user "
        "gets); oracle = the pack's retain set (separates the forget set's effect from the retain set's)",
    )

    def check(self, section: str) -> None:
        """Refuse a spec no run could use (one line naming the key and the fix)."""
        where = f"{WHERE}: {section}"
        if not re.fullmatch(r"[A-Za-z0-9_.=-]+", self.name or ""):
            raise RapidunError(f"{where}.name '{self.name}' must be letters, digits, '_', '-', '.' or '=' (a dir name)")
        if self.retain_from not in RETAIN_FROM:
            raise RapidunError(
                f"{where}.retain_from must be oracle or left out (the trace's), got '{self.retain_from}'"
            )
        if self.kind == "oracle":
            return
        if self.reports < 1:
            raise RapidunError(f"{where}.reports must be at least 1, got {self.reports}")
        if self.k is not None and self.k_factor is not None:
            raise RapidunError(f"{where}: give k or k_factor, not both")
        if self.k is not None and self.k < 1:
            raise RapidunError(f"{where}.k must be at least 1, got {self.k}")
        if self.k_factor is not None and not self.k_factor > 0:
            raise RapidunError(f"{where}.k_factor must be > 0, got {self.k_factor}")
        for key in self.trace:
            if key in _OWN_TRACE_KEYS:
                raise RapidunError(f"{where}.trace.{key}: set '{key}' on the source itself, not in its trace block")
        trace_config(self, 128, "alpaca", 1, section)  # the trace block's keys and values


def trace_config(source: ForgetSource, max_length: int, prompt_style: str, oracle_size: int, section: str) -> Any:
    """The source's :class:`TraceConfig`: its trace block on top of the backdoor's max_length and prompt style,
    with its ranker and forget size (``k_factor`` x ``oracle_size`` rounded, at least 1)."""
    k = source.k
    if source.k_factor is not None:
        k = max(1, round(source.k_factor * oracle_size))
    values = {"max_length": max_length, "prompt_style": prompt_style, **source.trace, "ranker": source.ranker, "k": k}
    cfg: TraceConfig = from_mapping(TraceConfig, values, WHERE, section=f"{section}.trace")
    try:
        cfg.check()
    except RapidunError as exc:  # the check names the CLI flag; here the key lives in the source's block
        raise RapidunError(f"{WHERE}: {section}: {exc}") from exc
    return cfg


def forget_sources(data: Any, families: dict[str, set[str] | None]) -> tuple[ForgetSource, ...]:
    """Validate the ``forget_sources`` list; ``families``: each dataset's trigger family names when known before
    its pack is built (synthetic datasets), to refuse an unknown family before any work starts."""
    if not isinstance(data, list) or not data:
        raise RapidunError(
            f"{WHERE}: 'forget_sources' must be a non-empty list of sources, e.g. [{{name: oracle, kind: oracle}}]"
        )
    out = []
    for i, item in enumerate(data):
        section = f"forget_sources[{i}]"
        source: ForgetSource = from_mapping(ForgetSource, item, WHERE, section=section)
        source.check(section)
        for dataset, known in families.items():
            unknown = sorted(set(source.families) - known) if known is not None else []
            if unknown:
                raise RapidunError(
                    f"{WHERE}: {section}.families: {unknown} not among dataset '{dataset}''s trigger families "
                    f"{sorted(known or ())}; name one of those"
                )
        out.append(source)
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise RapidunError(f"{WHERE}: forget source names must be unique, got {names}")
    return tuple(out)


def report_pool(val_seen: list[Row], val_ood: list[Row], source: ForgetSource) -> list[Row]:
    """The validation triggered prompts of the source's split (and families), in file order."""
    pool = list(val_seen if source.split == "seen" else val_ood)
    return [r for r in pool if r.trigger_family in source.families] if source.families else pool


def draw_reports(pool: list[tuple[Row, str | None]], source: ForgetSource, where: str) -> list[tuple[Row, str | None]]:
    """The source's reports: a seeded sample of ``pool`` = (prompt row, the backdoored model's greedy answer when
    the prompts were answered: ``reports_from: fired``, where only flagged answers are in the pool)."""
    if len(pool) < source.reports:
        families = f" of {', '.join(source.families)}" if source.families else ""
        fired = " on which the backdoored model misbehaves" if source.reports_from == "fired" else ""
        raise RapidunError(
            f"{where}: source '{source.name}' wants {source.reports} reports but the pack's val_{source.split} has "
            f"{len(pool)} prompts{families}{fired}; lower 'reports'"
        )
    return random.Random(source.report_seed).sample(pool, source.reports)


def fired_reports(
    model: Any, tokenizer: Any, pool: list[Row], scorer: Any, tcfg: Any, batch_size: int, progress: bool
) -> list[tuple[Row, str | None]]:
    """The prompts of ``pool`` whose greedy answer (the trace's report length and prompt style) the scorer flags,
    with that answer: what a user who saw the model misbehave would report."""
    from rapidun.evaluation.generate import generate_responses

    gen = generate_responses(
        model,
        tokenizer,
        pool,
        max_new_tokens=tcfg.max_new_tokens,
        batch_size=batch_size,
        prompt_style=tcfg.prompt_style,
        progress=progress,
        desc="reports: which prompts misbehave",
    )
    return [(row, out) for row, out in zip(pool, gen.outputs, strict=True) if scorer(out)]


@dataclass
class SourceSets:
    """The forget and retain rows of one source of one dataset, and its trace directory (None: oracle)."""

    forget: list[Row]
    retain: list[Row]
    trace_dir: Path | None = None
    report_families: list[str | None] = dataclasses.field(default_factory=list)  # of the reports, in draw order


def prepare_sources(state: Any, cfg: Any, progress: bool) -> dict[str, SourceSets]:
    """Every forget source of a dataset (``state``: its :class:`~rapidun.pipeline.datasets.DatasetState`): the
    oracle's rows, and each trace computed (or reused) once on the backdoored model."""
    from rapidun.pipeline.datasets import load_backdoored
    from rapidun.tracing import Report, load_traced_sets, trace

    out: dict[str, SourceSets] = {}
    loaded = None
    answered: dict[tuple[Any, ...], list[tuple[Row, str | None]]] = {}
    for i, source in enumerate(cfg.forget_sources or ()):
        if source.kind == "oracle":
            out[source.name] = SourceSets(list(state.pack.forget), list(state.pack.retain))
            continue
        section = f"forget_sources[{i}]"
        where = f"dataset '{state.spec.name}'"
        tcfg = trace_config(source, cfg.backdoor.max_length, cfg.backdoor.prompt_style, len(state.pack.forget), section)
        loaded = loaded or load_backdoored(state)
        rows = report_pool(state.pack.val_seen, state.pack.val_ood, source)
        if source.reports_from == "fired":
            key = (source.split, source.families, tcfg.max_new_tokens)
            if key not in answered:  # one generation per pool, shared by the sources that draw from it
                batch = cfg.evaluation.batch_size
                answered[key] = fired_reports(loaded.model, loaded.tokenizer, rows, state.scorer, tcfg, batch, progress)
            pool = answered[key]
        else:
            pool = [(row, None) for row in rows]
        drawn = draw_reports(pool, source, where)
        # no response (reports_from: any): the trace answers with the backdoored model's greedy output, what a user saw
        reports = [Report(r.instruction, r.context, answer) for r, answer in drawn]
        trace_dir = state.root / "traces" / source.name
        trace(
            loaded.model,
            loaded.tokenizer,
            state.pack.train,
            reports,
            trace_dir,
            tcfg,
            cache_dir=state.root / "traces" / "cache",
            progress=progress,
        )
        forget, retain = load_traced_sets(trace_dir)
        if source.retain_from == "oracle":  # the pack's retain rows, less any the trace proposes to forget
            traced = {r.key() for r in forget}
            retain = [r for r in state.pack.retain if r.key() not in traced]
        out[source.name] = SourceSets(forget, retain, trace_dir, [r.trigger_family for r, _ in drawn])
    return out


def source_record(source: ForgetSource) -> dict[str, Any]:
    """What a cell's settings record about its source (a changed source refuses to reuse the cell)."""
    return dataclasses.asdict(source)
