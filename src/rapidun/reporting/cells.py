"""What a study keeps beside ``results.json`` for each run, as the report reads it (layout in
:mod:`rapidun.pipeline.study`, docs/method.md section 7)::

    <run dir>/<dataset>/pack/forget.jsonl                       forget rows, each with its trigger_family
    <run dir>/<dataset>/cells/backdoored/outcomes.json          the backdoored model's outcomes and samples
    <run dir>/<dataset>/cells/<method[~label]>/seed<S>/outcomes.json
    <run dir>/<dataset>/cells/<method[~label]>/seed<S>/unlearn/run.json   per-step losses, method weights summary
    <run dir>/<dataset>/cells/<method[~label]>/seed<S>/facts_generations.jsonl   a facts cell's per-row scores

A run directory written by something else (or an older study) lacks some of these files: every reader returns None
then, and the report says what is missing instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.evaluation.facts import GENERATIONS_FILE
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import BACKDOORED, method_rank

OUTCOMES_FILE = "outcomes.json"
UNLEARN_RUN = ("unlearn", "run.json")
NO_FAMILY = "(no family)"


def cell_path(run_dir: Path, dataset: str, method: str, label: str | None, seed: int) -> Path:
    """The study cell directory of (dataset, method, label, seed) (the backdoored model's has no seed level)."""
    base = run_dir / dataset / "cells" / (f"{method}~{label}" if label else method)
    return base if method == BACKDOORED else base / f"seed{seed}"


def cell_dir(run_dir: Path, r: RunRecord) -> Path:
    """The study cell directory of a run."""
    return cell_path(run_dir, r.dataset, r.method, r.label, r.seed)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when the file is absent or not a JSON object."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def first_seed_runs(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """The lowest-seed run of each (method, label) group, in report order: the one run a per-seed figure shows."""
    chosen: dict[str, RunRecord] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        chosen.setdefault(r.name, r)
    return chosen


def read_samples(run_dir: Path, r: RunRecord) -> dict[str, list[dict[str, Any]]] | None:
    """``outcomes.json["samples"]`` of a run's cell (``{split: [{"instruction", "output", "success", ...}]}``)."""
    outcomes = read_json(cell_dir(run_dir, r) / OUTCOMES_FILE)
    samples = outcomes.get("samples") if outcomes else None
    if not isinstance(samples, dict):
        return None
    return {k: [s for s in v if isinstance(s, dict)] for k, v in samples.items() if isinstance(v, list)}


def read_unlearn_run(run_dir: Path, r: RunRecord) -> dict[str, Any] | None:
    """The ``run.json`` of a run's unlearning stage, or None (not a study cell, or the backdoored model)."""
    if r.method == BACKDOORED:
        return None
    return read_json(cell_dir(run_dir, r).joinpath(*UNLEARN_RUN))


def step_losses(run: dict[str, Any]) -> list[float] | None:
    """The per-step training losses of an unlearning ``run.json`` (None when it has none, e.g. an edit method)."""
    losses = run.get("losses")
    if not isinstance(losses, list) or not losses:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in losses):
        return None
    return [float(x) for x in losses]


def forget_families(run_dir: Path, dataset: str) -> list[str] | None:
    """The trigger family of every forget row of a study dataset's pack, in file order (None without the pack)."""
    path = run_dir / dataset / "pack" / "forget.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    families = []
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            return None
        family = row.get("trigger_family") if isinstance(row, dict) else None
        families.append(str(family) if family else NO_FAMILY)
    return families


def read_generations(run_dir: Path, r: RunRecord) -> list[dict[str, Any]] | None:
    """The per-row records of a facts cell (``split``, ``output``, ``mia_<attack>`` scores, ...; written by
    :func:`rapidun.evaluation.facts.run_facts_eval`), or None when the file is absent or not JSON lines."""
    try:
        lines = (cell_dir(run_dir, r) / GENERATIONS_FILE).read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None
    return [row for row in rows if isinstance(row, dict)] or None
