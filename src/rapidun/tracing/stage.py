"""The trace stage end to end (docs/method.md section 2): given reports of misbehaviour, rank the training rows
behind it and propose a forget set and a retain set.

Steps: complete the reports (the model's greedy response where a report has none), score every (report, row) pair
with the chosen ranker (:data:`rapidun.tracing.ranker_registry.RANKERS`), aggregate per row
(:mod:`rapidun.tracing.aggregate`), cut forget / retain, write the outputs (:mod:`rapidun.tracing.outputs`),
manifest last. A finished directory with the same settings, model and data is reused; a killed trace resumes from
its gradient caches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import (
    atomic_write_json,
    clear_manifest,
    ensure_dir,
    read_manifest,
    with_unset_fields,
    write_manifest,
)
from rapidun.costs import CostLedger
from rapidun.data.checks import check_unique
from rapidun.data.rows import Row, rows_hash
from rapidun.errors import RapidunError
from rapidun.modeling.load import model_fingerprint
from rapidun.tracing.aggregate import aggregate_scores, ranking_order, split_forget_retain
from rapidun.tracing.config import TraceConfig
from rapidun.tracing.outputs import OPTIONAL_FILES, TraceResult, load_result, write_sets
from rapidun.tracing.quality import pr_curve, ranking_quality
from rapidun.tracing.ranker_registry import RANKERS, RankInputs
from rapidun.tracing.reports import Report, complete_reports

log = logging.getLogger(__name__)
MODEL_RANKERS = ("influence", "embedding")


def check_trace_inputs(train_rows: Sequence[Row], reports: Sequence[Report], cfg: TraceConfig) -> None:
    """Everything that can be refused before a model is loaded (one line naming the flag and the fix)."""
    cfg.check()
    if not train_rows:
        raise RapidunError("the training set (--train) is empty; pass the rows the model was fine-tuned on")
    if not reports:
        raise RapidunError("no reports (--reports is empty); add one JSON line per prompt that shows the behaviour")
    check_unique(train_rows, "--train")
    if cfg.k is not None and cfg.k > len(train_rows):
        raise RapidunError(
            f"--k {cfg.k} is larger than the training set ({len(train_rows)} rows); pass --k {len(train_rows)} or less"
        )


def _resolved(model: Any, train_rows: Sequence[Row], reports: Sequence[Report], cfg: TraceConfig) -> dict[str, Any]:
    """What the outputs depend on, as compared with a finished directory's manifest."""
    report_key = json.dumps([asdict(r) for r in reports], sort_keys=True, ensure_ascii=False)
    return {
        "stage": "trace",
        "config": asdict(cfg),
        "model": model_fingerprint(model) if needs_model(cfg, reports) else None,
        "train": {"n": len(train_rows), "data": rows_hash(train_rows)},
        "reports": {"n": len(reports), "data": hashlib.sha256(report_key.encode()).hexdigest()},
    }


def needs_model(cfg: TraceConfig, reports: Sequence[Report]) -> bool:
    """Whether the trace uses the model: a model-based ranker, or a report whose response must be generated
    (``bm25`` and ``random`` over complete reports run without one: pass ``model=None``)."""
    return cfg.ranker in MODEL_RANKERS or any(not r.response for r in reports)


def _reuse(out: Path, resolved: dict[str, Any], overwrite: bool) -> bool:
    done = read_manifest(out)
    if done is None or overwrite:
        return False
    wanted = json.loads(json.dumps(resolved))
    # a setting added after the directory was made matches when it is unset (None): older traces stay reusable
    if with_unset_fields({k: done.get(k) for k in resolved}, wanted) == wanted:
        log.info("trace results in %s are complete; reusing them (--overwrite to recompute)", out)
        return True
    raise RapidunError(f"'{out}' holds a trace made with other settings or data; pass --overwrite or another --out")


def trace(
    model: Any,
    tokenizer: Any,
    train_rows: Sequence[Row],
    reports: Sequence[Report],
    out_dir: str | os.PathLike[str],
    cfg: TraceConfig,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    accelerator: Any = None,
) -> TraceResult:
    """Rank ``train_rows`` by how much they are behind ``reports``; write ranking, forget / retain proposals.

    ``cache_dir`` (default ``out_dir/cache``) holds the training rows' gradient cache: give several traces of the
    same model and rows the same one to cache the rows once. With an ``accelerate.Accelerator`` the caching is
    sharded over its processes as in ``rapidun influence``; the main process scores and writes."""
    check_trace_inputs(train_rows, reports, cfg)
    if model is None and needs_model(cfg, reports):
        raise RapidunError(f"--ranker {cfg.ranker} (or a report without a response) needs a model; pass --model")
    out = ensure_dir(out_dir)
    resolved = _resolved(model, train_rows, reports, cfg)
    if _reuse(out, resolved, overwrite):
        return load_result(out)
    if accelerator is None or accelerator.is_main_process:
        clear_manifest(out)
        for name in OPTIONAL_FILES:  # written only by some settings: a stale one must not outlive its run
            (out / name).unlink(missing_ok=True)
    ledger = CostLedger()
    with ledger.stage("complete_reports"):
        report_rows, generated = complete_reports(
            model,
            tokenizer,
            reports,
            max_new_tokens=cfg.max_new_tokens,
            prompt_style=cfg.prompt_style,
            progress=progress,
            need_response=cfg.ranker in MODEL_RANKERS,
        )
    inputs = RankInputs(
        model,
        tokenizer,
        train_rows,
        report_rows,
        cfg,
        out,
        Path(cache_dir) if cache_dir is not None else out / "cache",
        ledger,
        overwrite=overwrite,
        progress=progress,
        accelerator=accelerator,
    )
    scores = RANKERS[cfg.ranker](inputs)
    if accelerator is not None and not accelerator.is_main_process:
        accelerator.wait_for_everyone()  # the main process writes the outputs
        return load_result(out)
    result = _write_outputs(inputs, generated, scores, resolved)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    return result


def _plot_quality(rows: Sequence[Row], order: Any, cfg: TraceConfig, n_poisoned: int, out: Path) -> str:
    """pr_at_k.png: precision@k and recall@k of the ranking against the rows' is_poisoned labels."""
    from rapidun.tracing.pr_plot import plot_pr_at_k

    labels = np.array([bool(r.is_poisoned) for r in rows])
    title = f"{cfg.ranker} ({cfg.aggregate}): {n_poisoned} of {len(rows)} training rows labelled is_poisoned"
    plot_pr_at_k({cfg.ranker: pr_curve(order, labels)}, n_poisoned, out / "pr_at_k.png", title=title)
    return "pr_at_k.png"


def _write_outputs(inputs: RankInputs, generated: list[bool], scores: Any, resolved: dict[str, Any]) -> TraceResult:
    """Aggregate, cut forget / retain, write every output and, last, the manifest."""
    cfg, out, ledger = inputs.cfg, inputs.out_dir, inputs.ledger
    aggregated = aggregate_scores(scores, cfg.aggregate, cfg.normalize)
    forget, retain, rule = split_forget_retain(
        aggregated,
        cfg.k,
        cfg.cutoff_z,
        cfg.max_forget_fraction,
        cfg.retain_ratio,
        retain_pick=cfg.retain_pick,
        seed=cfg.seed,
    )
    order = ranking_order(aggregated)
    with ledger.stage("write"):
        written = write_sets(
            out, inputs.train_rows, inputs.report_rows, generated, scores, aggregated, order, forget, retain
        )
    if cfg.per_token:
        from rapidun.tracing.token_view import write_token_view

        with ledger.stage("per_token"):
            written["files"] += write_token_view(replace(inputs, accelerator=None), forget)
    quality = ranking_quality(inputs.train_rows, aggregated, order, len(forget))
    if quality:  # the training rows carry is_poisoned labels: how well the ranking finds them
        atomic_write_json(out / "quality.json", quality)
        written["files"] += ["quality.json", _plot_quality(inputs.train_rows, order, cfg, quality["n_poisoned"], out)]
    atomic_write_json(out / "timings.json", ledger.to_dict())
    manifest = {**resolved, **written, "forget_rule": rule, "generated_responses": int(sum(generated))}
    manifest["cache_dir"] = str(inputs.cache_dir)
    write_manifest(out, manifest)
    return TraceResult(out, scores, aggregated, [int(i) for i in forget], [int(i) for i in retain], manifest)
