"""The relearning check (docs/method.md section 6): does a short fine-tune on a few forget rows bring the forgotten
behaviour back?

A copy of the unlearned model (base + unlearning adapter, merged in memory; or a merged model directory for the
weight-editing methods and retraining) is fine-tuned for ``steps`` steps on a seeded share of the forget rows (or,
with ``benign``, on related benign rows) with the training recipe, then evaluated again. Recovery of the task's
main metric (backdoor: seen-trigger ASR) is (m_relearned - m_unlearned) / (m_before - m_unlearned), see
:mod:`.relearn_recovery`. Compare with the retrained model's recovery: a model that never held the behaviour shows
how fast the few rows teach it from scratch.

Writes ``OUT/relearn_rows.jsonl`` (the rows trained on), ``OUT/relearn.json``, then ``OUT/manifest.json`` (each
atomically); the input adapter and model are only read.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, clear_manifest, ensure_dir, read_manifest, write_manifest
from rapidun.data.rows import Row, rows_hash, write_rows
from rapidun.errors import RapidunError
from rapidun.pipeline.relearn_config import RelearnConfig
from rapidun.pipeline.relearn_recovery import (
    heldout_recovery,
    main_values,
    read_metrics_file,
    recovery,
    warn_row_mismatch,
)
from rapidun.pipeline.relearn_tasks import RELEARN_TASKS, RelearnTask, TaskData, pack_task

log = logging.getLogger(__name__)

RESULT_FILE = "relearn.json"
ROWS_FILE = "relearn_rows.jsonl"  # the rows the relearning fine-tune trained on


@dataclass
class RelearnResult:
    """``relearn.json`` as read back: the headline recovery and the full record."""

    out_dir: Path
    task: str
    metric: str
    recovery: float | None
    recovery_reason: str | None
    record: dict[str, Any]
    reused: bool = False


def relearning_rows(data: TaskData, task: RelearnTask, cfg: RelearnConfig) -> tuple[list[Row], list[int]]:
    """The seeded share of forget rows (indices into the forget file, ascending) and the rows trained on."""
    n_all = len(data.forget)
    if cfg.rows > n_all:
        raise RapidunError(f"--rows {cfg.rows} exceeds the {n_all} rows of '{data.forget_file}'; lower it")
    n = cfg.rows or max(1, round(cfg.share * n_all))
    chosen = sorted(random.Random(cfg.seed).sample(range(n_all), n))
    rows = [data.forget[i] for i in chosen]
    return (task.benign(rows, data.forget_file) if cfg.benign else rows), chosen


def prepare(pack_dir: str | Path, cfg: RelearnConfig) -> tuple[RelearnTask, TaskData]:
    """Validate the settings and read the pack (before any model is loaded)."""
    cfg.validate()
    pack = Path(pack_dir)
    if not pack.is_dir():
        raise RapidunError(f"--data '{pack}' is not a directory; pass a pack made by 'rapidun poison'")
    if read_manifest(pack) is None:
        raise RapidunError(f"--data '{pack}' is an unfinished pack (no manifest.json); rebuild it")
    task = RELEARN_TASKS[pack_task(pack)]
    data = task.load(pack, cfg)
    relearning_rows(data, task, cfg)  # a bad --rows or a benign row without its clean answer fails here, not later
    return task, data


def run_relearning(
    model: Any,
    tokenizer: Any,
    task: RelearnTask,
    data: TaskData,
    out_dir: str | Path,
    cfg: RelearnConfig,
    *,
    before: dict[str, Any],
    unlearned: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    progress: bool = True,
) -> RelearnResult:
    """Relearn an in-memory unlearned ``model`` (plain, adapter already merged; it is trained IN PLACE, so pass a
    copy) and write ``relearn.json``. ``before`` / ``unlearned``: metric dicts of the model before unlearning and of
    ``model`` (``unlearned`` None: evaluated here first). Returns the result; see the module docstring."""
    from rapidun.training.sft import train_model

    out = ensure_dir(out_dir)
    clear_manifest(out)
    start = time.perf_counter()
    if unlearned is None:
        unlearned = task.evaluate(model, tokenizer, data, cfg, progress)
    rows, chosen = relearning_rows(data, task, cfg)
    for param in model.parameters():  # a model loaded with an adapter comes frozen; a LoRA run re-freezes the base
        param.requires_grad_(True)
    keep = out / "relearned_model"
    with tempfile.TemporaryDirectory(dir=out, prefix=".relearn.") as tmp:
        # train_model saves what it trained; unless the user keeps it, that copy is scratch.
        train = train_model(
            model,
            tokenizer,
            rows,
            keep if cfg.keep_model else tmp,
            cfg.train_config(),
            overwrite=True,
            progress=progress,
            source=str((inputs or {}).get("model", "")),
        )
    # With lora_r, train_model injected the LoRA layers into ``model``'s own modules, so ``model`` now runs with them.
    relearned = task.evaluate(model, tokenizer, data, cfg, progress)
    b, u, r = (main_values(m, task) for m in (before, unlearned, relearned))
    by_metric = {name: recovery(b.get(name), u.get(name), r.get(name), cfg.min_gap) for name in task.recovery_metrics}
    main_value, main_reason = by_metric[task.main_metric]
    heldout = heldout_recovery((before, unlearned, relearned), data.eval_rows.get("forget", []), rows, cfg.min_gap)
    record = {
        "task": task.name,
        "metric": task.main_metric,
        "recovery": main_value,
        "recovery_reason": main_reason,
        "recovery_by_metric": {k: {"recovery": v, "reason": why} for k, (v, why) in by_metric.items()},
        "heldout": heldout,
        "formula": "(m_relearned - m_unlearned) / (m_before - m_unlearned)",
        "before_unlearning": b,
        "after_unlearning": u,
        "after_relearning": r,
        "relearning_rows": {
            "source": "benign" if cfg.benign else "forget",
            "forget_file": str(data.forget_file),
            "n": len(rows),
            "of": len(data.forget),
            "forget_indices": chosen,
            "rows_hash": rows_hash(rows),
        },
        "training": {k: train.run[k] for k in ("steps", "final_loss", "losses", "wall_clock_s", "tokens_per_s")},
        "scorer": data.scorer_record,
        "config": asdict(cfg),
        "inputs": inputs or {},
        "seconds": round(time.perf_counter() - start, 3),
    }
    warn_row_mismatch(b, r)
    write_rows(out / ROWS_FILE, rows)
    atomic_write_json(out / RESULT_FILE, record)
    files = [ROWS_FILE, RESULT_FILE]
    write_manifest(out, {"stage": "relearn", "config": asdict(cfg), "inputs": inputs or {}, "files": files})
    return RelearnResult(out, task.name, task.main_metric, main_value, main_reason, record)


def reused_result(out: Path, cfg: RelearnConfig, inputs: dict[str, Any]) -> RelearnResult | None:
    """The finished result in ``out`` when it was made with ``cfg`` and ``inputs``; None when ``out`` is unfinished.
    A finished ``out`` made otherwise is refused (pass ``overwrite`` to redo it)."""
    done = read_manifest(out)
    if done is None:
        return None
    settings = json.loads(json.dumps({"config": asdict(cfg), "inputs": inputs}, default=str))
    if {"config": done.get("config"), "inputs": done.get("inputs")} != settings or not (out / RESULT_FILE).is_file():
        raise RapidunError(
            f"--out '{out}' holds a relearning run with other settings; pass --overwrite or another --out"
        )
    log.info("%s: relearning already finished with these settings; reusing it (--overwrite to redo)", out)
    rec = json.loads((out / RESULT_FILE).read_text(encoding="utf-8"))
    return RelearnResult(out, rec["task"], rec["metric"], rec["recovery"], rec["recovery_reason"], rec, reused=True)


def relearn(
    base_model_dir: str | Path,
    adapter_dir: str | Path | None,
    pack_dir: str | Path,
    out_dir: str | Path,
    cfg: RelearnConfig,
    *,
    before_metrics: str | Path | None = None,
    unlearned_metrics: str | Path | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> RelearnResult:
    """Load the unlearned model (``base_model_dir`` + ``adapter_dir``, merged into an in-memory copy; or, with
    ``adapter_dir`` None, a merged model directory) and run :func:`run_relearning` into ``out_dir``.

    The metrics before unlearning come from ``before_metrics`` (a ``metrics.json``) or from evaluating
    ``base_model_dir`` (only with an adapter: without one the model before unlearning is unknown); the unlearned
    model's from ``unlearned_metrics`` or an evaluation. A finished ``out_dir`` with the same settings is reused
    unless ``overwrite``."""
    from rapidun.modeling.device import resolve_device
    from rapidun.modeling.load import load_model
    from rapidun.unlearning.outputs import merge_existing_adapter

    task, data = prepare(pack_dir, cfg)
    out = Path(out_dir)
    if adapter_dir is not None and not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise RapidunError(
            f"--adapter '{adapter_dir}' is not a PEFT adapter directory (no adapter_config.json); pass the --out "
            "of 'rapidun unlearn', or drop --adapter for a merged model directory"
        )
    for flag, given in (("--model", base_model_dir), ("--adapter", adapter_dir)):
        if given is not None and Path(given).is_dir() and Path(given).resolve() == out.resolve():
            raise RapidunError(f"--out '{out}' is the {flag} directory; relearning never writes there, choose another")
    if adapter_dir is None and before_metrics is None:
        raise RapidunError(
            "without --adapter the model before unlearning is unknown; pass --before-metrics (the metrics.json of "
            "'rapidun evaluate' on the model unlearning started from)"
        )
    before = read_metrics_file(before_metrics, task, "--before-metrics") if before_metrics else None
    unlearned = read_metrics_file(unlearned_metrics, task, "--unlearned-metrics") if unlearned_metrics else None
    inputs = {
        "model": str(base_model_dir),
        "adapter": None if adapter_dir is None else str(adapter_dir),
        "data": str(Path(pack_dir).resolve()),
        "before_metrics": None if before_metrics is None else str(before_metrics),
        "unlearned_metrics": None if unlearned_metrics is None else str(unlearned_metrics),
    }
    reused = None if overwrite else reused_result(out, cfg, inputs)
    if reused is not None:
        return reused
    where = resolve_device(device)
    if before is None:
        start = load_model(str(base_model_dir), device=where)
        before = task.evaluate(start.model, start.tokenizer, data, cfg, progress)
        del start
    loaded = load_model(str(base_model_dir), adapter=None if adapter_dir is None else str(adapter_dir), device=where)
    model = merge_existing_adapter(loaded.model)  # an in-memory copy: the adapter files are only read
    return run_relearning(
        model,
        loaded.tokenizer,
        task,
        data,
        out,
        cfg,
        before=before,
        unlearned=unlearned,
        inputs=inputs,
        progress=progress,
    )


def relearn_model(
    model: Any,
    tokenizer: Any,
    pack_dir: str | Path,
    out_dir: str | Path,
    cfg: RelearnConfig,
    *,
    before: dict[str, Any],
    unlearned: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> RelearnResult:
    """:func:`run_relearning` for a caller that holds the unlearned model (a study cell): reads the pack, reuses a
    finished ``out_dir`` made with the same settings, else trains ``model`` IN PLACE (pass a fresh copy, adapter
    merged) and evaluates it. ``before`` / ``unlearned``: the cell's metric dicts (e.g. ``metrics.json``)."""
    task, data = prepare(pack_dir, cfg)
    given = {"data": str(Path(pack_dir).resolve()), **(inputs or {})}
    reused = None if overwrite else reused_result(Path(out_dir), cfg, given)
    if reused is not None:
        return reused
    return run_relearning(
        model, tokenizer, task, data, out_dir, cfg, before=before, unlearned=unlearned, inputs=given, progress=progress
    )
