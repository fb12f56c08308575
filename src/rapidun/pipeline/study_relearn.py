"""The relearning column of a study (docs/method.md section 6): after a cell is evaluated, a fresh copy of its
unlearned model is fine-tuned for a few steps on forget rows and evaluated again; the cell records

    relearn_recovery = (m_relearned - m_unlearned) / (m_backdoored - m_unlearned)   (m = seen-trigger ASR)

and ``relearn_reason`` (why the recovery is None, else None); on a facts dataset m = forget-set answer accuracy,
and ``relearn_recovery_heldout`` is its recovery on the forget questions the relearning did not train on. The
run lives in ``cell_dir/relearn`` and is reused when finished with the same settings.

A facts cell's study metrics are nested per split and come from a longer evaluation than relearning's, so there the
metrics before and after unlearning are measured by the relearning task itself (the model before unlearning once
per dataset, kept in ``DATASET/relearn_before.json``), and the three points compare like for like. Only studies whose config has a ``relearn`` block do any of this, so the cell
records of other studies keep exactly their keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rapidun.artifacts import atomic_write_json, read_manifest
from rapidun.modeling.load import LoadedModel
from rapidun.pipeline.datasets import DatasetState, load_backdoored
from rapidun.pipeline.relearn import relearn_model
from rapidun.pipeline.relearn_config import RelearnConfig
from rapidun.pipeline.relearn_tasks import RELEARN_TASKS
from rapidun.pipeline.study_eval import CELL_FILE

log = logging.getLogger(__name__)
RELEARN_DIR = "relearn"
BEFORE_FILE = "relearn_before.json"


def facts_before(cfg: RelearnConfig, state: DatasetState, progress: bool) -> dict[str, Any]:
    """The relearning task's metrics of the model before unlearning (facts datasets), measured once per dataset and
    relearning settings and kept in ``DATASET/relearn_before.json``."""
    path = state.root / BEFORE_FILE
    settings = cfg.record()
    if path.is_file():
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("config") == settings:
            return dict(kept["metrics"])
    task = RELEARN_TASKS["facts"]
    data = task.load(state.pack.directory, cfg)
    loaded = load_backdoored(state)
    metrics = task.evaluate(loaded.model, loaded.tokenizer, data, cfg, progress)
    atomic_write_json(path, {"config": settings, "metrics": metrics})
    return metrics


def relearn_fields(
    cfg: RelearnConfig | None,
    state: DatasetState,
    cell_dir: Path,
    load_unlearned: Callable[[], LoadedModel],
    backdoored_metrics: dict[str, Any],
    cell_metrics: dict[str, Any],
    progress: bool,
    overwrite: bool = False,
) -> dict[str, Any]:
    """``{"relearn_recovery", "relearn_reason"}`` of one cell, or ``{}`` when relearning is off (``cfg`` None).
    ``load_unlearned`` must load the unlearned model afresh: relearning trains it in place. ``overwrite``: redo a
    relearning run made with other settings."""
    from rapidun.unlearning.outputs import merge_existing_adapter

    if cfg is None:
        return {}
    facts = state.facts is not None
    before = facts_before(cfg, state, progress) if facts else backdoored_metrics
    loaded = load_unlearned()
    model = merge_existing_adapter(loaded.model)
    res = relearn_model(
        model,
        loaded.tokenizer,
        state.pack.directory,
        cell_dir / RELEARN_DIR,
        cfg,
        before=before,
        unlearned=None if facts else cell_metrics,
        inputs={"cell": str(cell_dir)},
        overwrite=overwrite,
        progress=progress,
    )
    log.info("%s: relearning recovery %s", cell_dir, res.recovery if res.recovery is not None else res.recovery_reason)
    fields = {"relearn_recovery": res.recovery, "relearn_reason": res.recovery_reason}
    heldout = res.record.get("heldout")
    return fields | ({"relearn_recovery_heldout": heldout["recovery"]} if facts and heldout else {})


def relearn_finished(
    cfg: RelearnConfig | None,
    state: DatasetState,
    cell_dir: Path,
    load_unlearned: Callable[[], LoadedModel],
    backdoored_metrics: dict[str, Any],
    record: dict[str, Any],
    progress: bool,
) -> dict[str, Any]:
    """A finished cell's ``record``, with the relearning fields added (and ``cell.json`` rewritten) when the study
    asks for relearning and the cell was finished without it (a ``relearn`` block added to an existing study), or
    with other relearning settings (the block changed: the recovery is measured again with the new ones)."""
    if cfg is None:
        return record
    made = read_manifest(cell_dir / RELEARN_DIR)
    same = made is not None and made.get("config") == cfg.record()
    if "relearn_recovery" in record and same:
        return record
    fields = relearn_fields(
        cfg, state, cell_dir, load_unlearned, backdoored_metrics, record["metrics"], progress, overwrite=not same
    )
    record = {**record, **fields}
    atomic_write_json(cell_dir / CELL_FILE, record)
    return record
