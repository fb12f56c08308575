"""``run_study``: datasets x methods x seeds x sweeps, every cell resumable, results as JSON + CSV + report.

Layout of ``OUT``::

    OUT/<dataset>/pack/           the backdoor pack (rapidun poison)
    OUT/<dataset>/backdoored/     the backdoored model (rapidun train) and its run.json
    OUT/<dataset>/influence/      FF/FR/RF/RR, computed once, shared by every influence-weighted cell
    OUT/<dataset>/cells/<method[~label]>/seed<S>/unlearn/   the unlearning run (rapidun unlearn)
    OUT/<dataset>/cells/<method[~label]>/seed<S>/outcomes.json  per-prompt test and validation outcomes
    OUT/<dataset>/cells/<method[~label]>/seed<S>/cell.json  metrics + costs, written last: the cell is done
    OUT/results.json (with a ``frontier`` block when the config has one), OUT/results.csv, OUT/report.{html,md}

Costs: ``total_s`` of a cell is what the method costs to unlearn (influence + weights + training); evaluation is
reported apart. The shared influence time is charged in full to every cell that uses it. ``speedup_vs_retrain``
= mean retrain ``total_s`` of the dataset / the cell's ``total_s``, measured in the same run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, atomic_write_text, ensure_dir
from rapidun.modeling.load import LoadedModel, load_model
from rapidun.pipeline.datasets import (
    DatasetState,
    check_settings,
    clean_start_model,
    load_backdoored,
    pack_rows,
    prepare_dataset,
    shared_influence,
)
from rapidun.pipeline.environment import environment_header
from rapidun.pipeline.forget_sources import prepare_sources, source_record
from rapidun.pipeline.study_config import CellSpec, StudyConfig, method_params, resolved_unlearn_config
from rapidun.pipeline.study_eval import CELL_FILE, evaluate_cell, finished_cell
from rapidun.pipeline.study_facts import add_facts_references
from rapidun.pipeline.study_frontier import frontier_block
from rapidun.pipeline.study_relearn import relearn_fields, relearn_finished
from rapidun.pipeline.study_results import BACKDOORED, add_speedups, cell_stages, lora_targets, results_csv
from rapidun.pipeline.study_sequential import check_sequential, sequential_fields
from rapidun.training.loop import TrainingDiverged
from rapidun.unlearning.registry import is_reference, uses_influence

log = logging.getLogger(__name__)


@dataclass
class StudyResult:
    out_dir: Path
    runs: list[dict[str, Any]]
    report_html: Path | None


def _record(
    state: DatasetState,
    method: str,
    label: str,
    seed: int,
    metrics: dict,
    stages: dict[str, float],
    peak: float,
    weights_dir: str | None,
    extra: dict | None = None,
) -> dict[str, Any]:
    timings = {k: float(stages.get(k, 0.0)) for k in ("influence_s", "weights_s", "training_s", "evaluation_s")}
    timings["total_s"] = timings["influence_s"] + timings["weights_s"] + timings["training_s"]
    return {
        "method": method,
        "label": label,
        "seed": seed,
        "dataset": state.spec.name,
        "metrics": metrics,
        "timings": timings,
        "peak_memory_mb": peak,
        "speedup_vs_retrain": None,
        "weights_dir": weights_dir,
        **(extra or {}),
    }


def _backdoored_cell(state: DatasetState, cfg: StudyConfig, progress: bool) -> dict[str, Any]:
    path = state.root / "cells" / BACKDOORED / CELL_FILE
    if path.is_file():
        return finished_cell(path.parent, lambda: load_backdoored(state), state, cfg, progress)
    loaded = load_backdoored(state)
    metrics, ev_s = evaluate_cell(loaded.model, loaded.tokenizer, state, cfg, path.parent, progress)
    run = state.backdoor_run
    rec = _record(
        state,
        BACKDOORED,
        "",
        state.spec.seed,
        metrics,
        {"training_s": run.get("wall_clock_s", 0.0), "evaluation_s": ev_s},
        run.get("peak_rss_mb", 0.0),
        None,
        {"note": "the model before unlearning; training_s is the backdoor implant"},
    )
    atomic_write_json(path, rec)
    return rec


def _unlearned_model(state: DatasetState, cell: CellSpec, run_dir: Path, result_model: Any) -> LoadedModel:
    """The unlearned model to evaluate: in memory when just trained, else reloaded from the run directory."""
    if is_reference(cell.method):
        return load_model(str(run_dir))
    base = load_backdoored(state)
    if result_model is not None:
        return LoadedModel(result_model, base.tokenizer, str(run_dir), "directory")
    if (run_dir / "adapter_config.json").is_file():
        return load_model(str(state.backdoored_dir), adapter=str(run_dir))
    return load_model(str(run_dir / "merged"))


def _cell_settings(cfg: StudyConfig, cell: CellSpec, seed: int) -> dict[str, Any]:
    """What makes a cell's result: reusing its directory with other settings is refused."""
    if is_reference(cell.method):
        return {"method": cell.method, "seed": seed}  # the backdoor recipe, already checked per dataset
    source = cfg.source(cell.source)
    return {
        "method": cell.method,
        "label": cell.label,
        "params": cell.params,
        "unlearn": {**cfg.unlearn, **cell.unlearn},
        "seed": seed,
    } | ({"source": source_record(source)} if source is not None else {})


def _cell_inputs(state: DatasetState, cfg: StudyConfig, cell: CellSpec, seed: int) -> tuple[LoadedModel, Any, Any]:
    """The starting model, the method's params and the (forget, retain) rows of one cell. The retraining reference
    starts from the clean model and trains on the clean training rows with the backdoor recipe."""
    from rapidun.unlearning import RetrainParams

    if is_reference(cell.method):
        start = clean_start_model(state, cfg, seed)
        return start, RetrainParams(train=replace(cfg.backdoor, seed=seed)), (state.pack.forget, state.clean_train)
    params = method_params(cell.method, cell.params)
    if getattr(params, "train_file", "") is None:  # a method that reads the training data gets the pack's rows
        params = replace(params, train_file=str(state.pack.directory / "train.jsonl"))
    rows = (state.sources[cell.source].forget, state.sources[cell.source].retain) if cell.source else None
    return load_backdoored(state), params, rows or pack_rows(state)


def _source_influence(
    state: DatasetState, cfg: StudyConfig, cell: CellSpec, influence: tuple[Path, float] | None, progress: bool
) -> tuple[Path, float] | None:
    """The influence scores a cell reads: its forget source's own (computed once per source) when it has one."""
    if (
        cell.source
        and not is_reference(cell.method)
        and uses_influence(cell.method)
        and "weights_dir" not in cell.params
    ):
        return shared_influence(state, cfg, progress, cell.source)
    return influence


def _run_cell(
    state: DatasetState,
    cfg: StudyConfig,
    cell: CellSpec,
    seed: int,
    influence: tuple[Path, float] | None,
    progress: bool,
    backdoored: dict[str, Any],
) -> dict[str, Any]:
    """One cell: unlearn, evaluate, then relearn and serve sequential requests when the config asks
    (``backdoored``: the metrics before unlearning)."""
    from rapidun.unlearning import unlearn

    influence = _source_influence(state, cfg, cell, influence, progress)
    cell_dir = state.root / "cells" / cell.key / f"seed{seed}"
    settings = _cell_settings(cfg, cell, seed)
    check_settings(cell_dir / "cell_settings.json", json.loads(json.dumps(settings, default=str)), f"cell {cell.key}")
    run_dir = cell_dir / "unlearn"
    fresh = lambda: _unlearned_model(state, cell, run_dir, None)  # noqa: E731 - relearning trains its copy in place
    if (cell_dir / CELL_FILE).is_file():
        done = finished_cell(cell_dir, fresh, state, cfg, progress)
        done = relearn_finished(cfg.relearn, state, cell_dir, fresh, backdoored, done, progress)
        if cfg.sequential is None or "sequential" in done or is_reference(cell.method):
            return done
    start, params, (forget, retain) = _cell_inputs(state, cfg, cell, seed)
    train = resolved_unlearn_config({**cfg.unlearn, **cell.unlearn}, seed, start.model)
    sequential = lambda: sequential_fields(  # noqa: E731 - the same call for a new and a finished cell
        cfg.sequential, state, cfg, cell.method, params, train, start.tokenizer, (forget, retain), cell_dir, progress
    )
    if (cell_dir / CELL_FILE).is_file():  # finished before the study asked for sequential requests: add them
        atomic_write_json(cell_dir / CELL_FILE, done := done | sequential())
        return done
    log.info("[%s] %s seed %d", state.spec.name, cell.key, seed)
    try:
        res = unlearn(
            start.model,
            start.tokenizer,
            forget,
            retain,
            run_dir,
            method=cell.method,
            params=params,
            train=train,
            influence_dir=influence[0] if influence and uses_influence(cell.method) else None,
            progress=progress,
            source=cfg.model,
        )
        run, result_model = res.run, res.model
    except TrainingDiverged as exc:
        # A diverged cell is a result, not a crash of the grid: the run kept its last good adapter and wrote
        # run.json (with "diverged"); evaluate that adapter, record the divergence and go on with the next cell.
        log.warning("[%s] %s seed %d: %s", state.spec.name, cell.key, seed, exc)
        run, result_model = json.loads((run_dir / "run.json").read_text()), None
    loaded = _unlearned_model(state, cell, run_dir, result_model)
    metrics, ev_s = evaluate_cell(loaded.model, loaded.tokenizer, state, cfg, cell_dir, progress)
    stages = {**cell_stages(run, cell, influence), "evaluation_s": ev_s}
    weights = run_dir / "weights"
    relearned = relearn_fields(cfg.relearn, state, cell_dir, fresh, backdoored, metrics, progress)
    relearned |= sequential()
    rec = _record(
        state,
        cell.method,
        cell.full_label,
        seed,
        metrics,
        stages,
        run.get("peak_rss_mb", 0.0),
        str(weights.relative_to(state.root.parent)) if weights.is_dir() else None,
        {"steps": run.get("steps"), "final_loss": run.get("final_loss"), "lora_targets": lora_targets(cell, train)}
        | ({"diverged": run["diverged"]} if "diverged" in run else {})
        | ({"source": cell.source} if cell.source else {})
        | relearned,
    )
    atomic_write_json(cell_dir / CELL_FILE, rec)
    return rec


def run_study(
    cfg: StudyConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    command: str = "",
    on_cell: Callable[[dict[str, Any]], None] | None = None,
    report: bool = True,
) -> StudyResult:
    """Run every cell of ``cfg`` under ``out_dir`` (finished cells are reused), then write the results files and
    the report. ``on_cell`` is called with each finished cell's record (e.g. to print progress)."""
    check_sequential(cfg)  # before anything is written
    out = ensure_dir(out_dir)
    atomic_write_json(out / "study_config.json", cfg.to_dict())
    runs: list[dict[str, Any]] = []
    families: dict[str, dict[str, Any]] = {}
    for spec in cfg.datasets:
        state = prepare_dataset(spec, cfg, out / spec.name, progress)
        rec = _backdoored_cell(state, cfg, progress)
        backdoored = rec["metrics"]
        runs.append(rec)
        if on_cell:
            on_cell(rec)
        state.sources = prepare_sources(state, cfg, progress)  # traced forget sets, once per dataset and source
        reports = {name: sets.report_families for name, sets in state.sources.items()}
        families[spec.name] = {**state.families(), "reports": reports}
        cells = cfg.cells()
        needs = any(uses_influence(c.method) and "weights_dir" not in c.params and not c.source for c in cells)
        influence = shared_influence(state, cfg, progress) if needs else None
        for seed, cell in cfg.grid():
            rec = _run_cell(state, cfg, cell, seed, influence, progress, backdoored)
            runs.append(rec)
            if on_cell:
                on_cell(rec)
    add_speedups(runs)
    add_facts_references(runs)
    header = environment_header(
        command=command,
        model=cfg.model,
        dataset=", ".join(d.name for d in cfg.datasets),
        seeds=list(cfg.seeds),
        config=cfg.to_dict(),
        name=cfg.name,
    )
    frontier = frontier_block(cfg, out, families)
    atomic_write_json(
        out / "results.json", {"header": header, "runs": runs} | ({"frontier": frontier} if frontier else {})
    )
    atomic_write_text(out / "results.csv", results_csv(runs))
    html = None
    if report:
        from rapidun.reporting.render import render_report

        html = render_report([out], out).html
    return StudyResult(out, runs, html)
