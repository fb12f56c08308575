"""Reading a run directory's ``results.json`` into typed records, strictly where it matters.

``results.json`` (written by ``rapidun demo`` / ``rapidun study``) holds a ``header`` (versions, seeds, hardware,
git commit, config) and a list of ``runs``: one per (dataset, method, optional sweep label, seed), each with the
evaluation metrics, per-stage timings, peak memory, the speedup over retraining and where its weights are.
The four headline metrics (``asr_seen``, ``asr_ood``, ``false_trigger_rate``, ``clean_ppl``) must be present in a
backdoor record (``null`` is accepted and shown as n/a: evaluation reports None for an empty test set); a facts
record (``metrics["task"] == "facts"``, :mod:`rapidun.evaluation.facts`) has none of them and the report reads its
own metrics (:mod:`rapidun.reporting.facts_sections`). Every other field is optional and shown as n/a when absent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidun.errors import RapidunError

RESULTS_FILE = "results.json"
HEADLINE_KEYS = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")
# Share-valued metrics: a value outside [0, 1] means the writer used percent, which we refuse rather than guess.
RATE_KEYS = ("asr_seen", "asr_ood", "false_trigger_rate")
FACTS_TASK = "facts"  # metrics["task"] of a facts record (rapidun.evaluation.facts)
STAGES = ("influence_s", "weights_s", "training_s", "evaluation_s")


@dataclass(frozen=True)
class RunRecord:
    """One (dataset, method, label, seed) entry of ``results.json``; ``metrics`` is evaluation's metrics object."""

    method: str
    seed: int
    dataset: str
    label: str | None
    metrics: dict[str, Any]
    timings: dict[str, float]
    peak_memory_mb: float | None
    speedup_vs_retrain: float | None
    weights_dir: Path | None  # absolute (resolved against the run directory), or None
    index: int  # position in ``runs``, for messages
    diverged_at: int | None = None  # the step at which training diverged (the last good state was evaluated)
    relearned: bool = False  # the run has a relearning result (a study with a ``relearn`` block)
    relearn_recovery: float | None = None  # docs/method.md section 6; None when undefined (see relearn_reason)
    relearn_reason: str | None = None
    relearn_recovery_heldout: float | None = None  # facts: on the forget questions the relearning did not train on
    sequential: dict[str, Any] | None = None  # k successive requests vs one (a study with a ``sequential`` block)

    @property
    def name(self) -> str:
        """Display name of the group this run belongs to: ``method`` or ``method [label]``."""
        return f"{self.method} [{self.label}]" if self.label else self.method

    @property
    def is_facts(self) -> bool:
        """Whether the run was evaluated by the facts metrics (a facts dataset) rather than the backdoor ones."""
        return self.metrics.get("task") == FACTS_TASK

    def headline(self, key: str) -> float | None:
        """A headline metric (None when null, or absent as in a facts record)."""
        value = self.metrics.get(key)
        return None if value is None else float(value)


@dataclass(frozen=True)
class RunResults:
    """A parsed run directory: its header and its runs in file order."""

    run_dir: Path
    header: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)
    frontier: dict[str, Any] | None = None  # results.json's matched-perplexity block (rapidun.pipeline.study_frontier)

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r.dataset for r in self.runs))


def load_results(run_dir: str | Path) -> RunResults:
    """Read ``run_dir/results.json``; a missing or malformed file is a :class:`RapidunError` naming it."""
    run_dir = Path(run_dir)
    path = run_dir / RESULTS_FILE
    if not run_dir.is_dir():
        raise RapidunError(f"run directory '{run_dir}' does not exist; pass a directory written by 'rapidun demo'")
    if not path.is_file():
        raise RapidunError(
            f"'{run_dir}' has no {RESULTS_FILE}; pass a run directory written by 'rapidun demo' or 'rapidun study'"
            " (a run that is still going writes it at the end)"
        )
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RapidunError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); re-run the stage that wrote it") from exc
    except OSError as exc:
        raise RapidunError(f"cannot read '{path}': {exc.strerror}") from exc
    return parse_results(obj, run_dir=run_dir, source=str(path))


def parse_results(obj: Any, run_dir: str | Path = ".", source: str = RESULTS_FILE) -> RunResults:
    """Validate a ``results.json`` object (already loaded); ``run_dir`` resolves relative ``weights_dir`` paths."""
    run_dir = Path(run_dir)
    if not isinstance(obj, dict):
        raise RapidunError(f"{source}: expected a JSON object with 'header' and 'runs', got {type(obj).__name__}")
    header = obj.get("header") or {}
    if not isinstance(header, dict):
        raise RapidunError(f"{source}: 'header' must be an object, got {type(header).__name__}")
    runs = obj.get("runs")
    if not isinstance(runs, list):
        raise RapidunError(
            f"{source}: 'runs' must be a list of run objects; the file is incomplete or not a results file"
        )
    default_dataset = str(header.get("dataset") or "dataset")
    records = [_parse_run(r, i, run_dir, default_dataset, source) for i, r in enumerate(runs)]
    frontier = obj.get("frontier")
    if frontier is not None and not isinstance(frontier, dict):
        raise RapidunError(f"{source}: 'frontier' must be an object, got {type(frontier).__name__}")
    return RunResults(run_dir=run_dir, header=header, runs=records, frontier=frontier)


def _parse_run(run: Any, i: int, run_dir: Path, default_dataset: str, source: str) -> RunRecord:
    where = f"{source}: runs[{i}]"
    if not isinstance(run, dict):
        raise RapidunError(f"{where} must be an object, got {type(run).__name__}")
    method = run.get("method")
    if not isinstance(method, str) or not method:
        raise RapidunError(f"{where} has no 'method' string; every run must name its method")
    seed = run.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RapidunError(f"{where} ({method}) has no integer 'seed'")
    metrics = run.get("metrics")
    if not isinstance(metrics, dict):
        raise RapidunError(f"{where} ({method}, seed {seed}) has no 'metrics' object; re-run its evaluation")
    for key in () if metrics.get("task") == FACTS_TASK else HEADLINE_KEYS:
        if key not in metrics:
            raise RapidunError(f"{where} ({method}, seed {seed}): metrics lack '{key}'; re-run its evaluation")
        value = metrics[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RapidunError(
                f"{where} ({method}, seed {seed}): metrics.{key} must be a number or null, got {value!r}"
            )
        if key in RATE_KEYS and value is not None and math.isfinite(value) and not 0.0 <= value <= 1.0:
            raise RapidunError(
                f"{where} ({method}, seed {seed}): metrics.{key} = {value} is not a share in [0, 1]"
                " (percent values are not accepted)"
            )
    timings_raw = run.get("timings") or {}
    timings = {k: float(v) for k, v in timings_raw.items() if _is_number(v)} if isinstance(timings_raw, dict) else {}
    label = run.get("label")
    weights_dir = run.get("weights_dir")
    return RunRecord(
        method=method,
        seed=seed,
        dataset=str(run.get("dataset") or default_dataset),
        label=str(label) if label not in (None, "") else None,
        metrics=metrics,
        timings=timings,
        peak_memory_mb=_opt_float(run.get("peak_memory_mb")),
        speedup_vs_retrain=_opt_float(run.get("speedup_vs_retrain")),
        weights_dir=(run_dir / weights_dir).resolve() if isinstance(weights_dir, str) and weights_dir else None,
        index=i,
        diverged_at=_diverged_step(run.get("diverged")),
        relearned="relearn_recovery" in run,
        relearn_recovery=_opt_float(run.get("relearn_recovery")),
        relearn_reason=str(run["relearn_reason"]) if run.get("relearn_reason") else None,
        relearn_recovery_heldout=_opt_float(run.get("relearn_recovery_heldout")),
        sequential=run["sequential"] if isinstance(run.get("sequential"), dict) else None,
    )


def _diverged_step(value: Any) -> int | None:
    if isinstance(value, dict) and isinstance(value.get("step"), int):
        return int(value["step"])
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _opt_float(v: Any) -> float | None:
    return float(v) if _is_number(v) else None
