"""``unlearn``: the library entry point behind ``rapidun unlearn`` (one function for every method).

Output directory (``out_dir``):

- gradient methods: the PEFT adapter (``adapter_config.json``, ``adapter_model.safetensors``; load it with
  ``PeftModel.from_pretrained(starting_model, out_dir)``), ``weights/`` (rapidun family), ``influence/`` (when
  computed here), ``evaluations.json`` (with ``eval_fn``), ``merged/`` with ``merge=True``;
- Fisher methods: ``merged/`` only (they edit base weights, no adapter); retrain: what ``rapidun train`` writes;
- always ``run.json`` (method, resolved config with every default, wall-clock and peak memory per stage with
  influence / weights / training always present, steps, loss curve, evaluations, best step, weights summary) and
  ``manifest.json``, written last.

An interrupted run continues from ``out_dir/checkpoint`` and ends equal to an uninterrupted one. A finished
``out_dir`` made with the same settings is reused (the model is then not touched and ``result.model`` is None);
one made with other settings is refused unless ``overwrite``. On divergence the last good adapter and ``run.json``
are written (no manifest) and :class:`~rapidun.training.loop.TrainingDiverged` is raised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import rapidun
from rapidun.artifacts import atomic_write_json, clear_manifest, ensure_dir, read_manifest, write_manifest
from rapidun.costs import CostLedger
from rapidun.data.rows import Row, rows_hash
from rapidun.errors import RapidunError
from rapidun.modeling.limits import check_max_length
from rapidun.training.loop import TrainingDiverged
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.inputs import check_rows
from rapidun.unlearning.kind_runs import RunInputs, RunOptions, run_method_kind
from rapidun.unlearning.outputs import clear_item, clear_run, stage_costs
from rapidun.unlearning.plugin_weights import check_weights_dir
from rapidun.unlearning.registry import DEFAULT_METHOD, Method, get_method
from rapidun.unlearning.selection import EvalFn

log = logging.getLogger(__name__)
CONFIG_FILE = "unlearn_config.json"


@dataclass
class UnlearnResult:
    out_dir: Path
    method: str
    run: dict[str, Any]
    model: Any = None  # the unlearned model in memory (None when a finished run was reused)
    reused: bool = False
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final_loss(self) -> float | None:
        return self.run.get("final_loss")


def _prepare_out(out: Path, config: dict[str, Any], overwrite: bool, is_main: bool) -> dict[str, Any] | None:
    """Reuse (returns run.json), refuse, clear (overwrite) or resume an output directory. Every process takes the
    same decision; only the main process writes."""
    manifest = read_manifest(out)
    saved = json.loads((out / CONFIG_FILE).read_text()) if (out / CONFIG_FILE).is_file() else None
    if overwrite:
        if is_main:
            clear_manifest(out)
            clear_run(out)
    elif manifest is not None and manifest.get("stage") == "unlearn":
        if manifest.get("config") == config:
            log.info("reusing the finished unlearning run in %s (pass --overwrite to redo it)", out)
            return dict(json.loads((out / "run.json").read_text()))
        raise RapidunError(
            f"--out '{out}' holds a finished unlearning run with other settings; pass --overwrite or "
            "choose another --out"
        )
    elif manifest is not None and not (manifest.get("kind") == "train" and saved == config):
        raise RapidunError(f"--out '{out}' holds another finished stage; choose another --out")
    elif saved is not None and saved != config and any(p.name != CONFIG_FILE for p in out.iterdir()):
        # A directory holding only its config failed before its first step: nothing to resume, so a corrected
        # rerun takes it over without --overwrite.
        raise RapidunError(
            f"--out '{out}' holds an unfinished run with other settings; pass --overwrite to start "
            "again or rerun with the same settings to resume"
        )
    if is_main:
        atomic_write_json(out / CONFIG_FILE, config)
    return None


def unlearn(
    model: Any,
    tokenizer: Any,
    forget_rows: Sequence[Row],
    retain_rows: Sequence[Row],
    out_dir: str | Path,
    *,
    method: str = DEFAULT_METHOD,
    params: Any = None,
    train: UnlearnConfig | None = None,
    weights_dir: str | Path | None = None,
    influence_dir: str | Path | None = None,
    eval_fn: EvalFn | None = None,
    eval_every: int = 0,
    merge: bool = False,
    overwrite: bool = False,
    accelerator: Any = None,
    progress: bool = True,
    source: str = "",
) -> UnlearnResult:
    """Unlearn ``forget_rows`` from ``model`` (modified in place) with the named method; see the module doc.

    ``params``: the method's params dataclass (``RapidunParams``, ``GAParams``, ...; default its defaults);
    ``train``: the training recipe; ``weights_dir``: per-row weights from ``rapidun weights`` (read by rapidun,
    self_only and, as a plug-in multiplying each row's loss, by ga, graddiff, uniform, npo, simnpo);
    ``eval_fn(model) -> {"asr_seen": .., "clean_ppl": .., ...}`` is called before training, every ``eval_every``
    steps and at the end, and picks the adapter kept (rule in ``run.json``)."""
    spec, params, cfg = _resolve_method(method, params, train, eval_fn, eval_every)
    check_rows(forget_rows, retain_rows)
    check_max_length(model, params.train.max_length if spec.is_reference else cfg.max_length)
    _check_inputs(spec, method, weights_dir, influence_dir, forget_rows, retain_rows)
    out = ensure_dir(out_dir)
    config = _run_config(
        method, params, cfg, weights_dir, influence_dir, eval_fn, eval_every, merge, source, forget_rows, retain_rows
    )
    is_main = accelerator is None or bool(accelerator.is_main_process)
    prior = _prepare_out(out, config, overwrite, is_main)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    if prior is not None:
        return UnlearnResult(out, method, prior, None, True, list(prior.get("evaluations", [])))
    ledger = CostLedger()
    run: dict[str, Any] = {
        "command": "unlearn",
        "rapidun_version": rapidun.__version__,
        "method": method,
        "kind": spec.kind,
        "description": spec.description,
        "edits_base_weights": spec.edits_base,
        "config": config,
        "n_forget": len(forget_rows),
        "n_retain": len(retain_rows),
    }
    inputs = RunInputs(model, tokenizer, forget_rows, retain_rows, out, ledger, weights_dir, influence_dir)
    options = RunOptions(eval_fn, eval_every, merge, overwrite, accelerator, progress, source)
    fields, result_model, diverged = run_method_kind(spec, method, params, cfg, inputs, options)
    run.update(fields)
    _record_costs(run, ledger, diverged)
    if is_main:
        atomic_write_json(out / "run.json", run)
        if diverged is not None:
            raise diverged
        for name in ("checkpoint", "best_state.safetensors", "training_progress.json"):
            clear_item(out / name)
        write_manifest(
            out, {"stage": "unlearn", "method": method, "config": config, "edits_base_weights": spec.edits_base}
        )
    if diverged is not None:
        raise diverged
    return UnlearnResult(out, method, run, result_model, False, list(run.get("evaluations", [])))


def _run_config(
    method: str,
    params: Any,
    cfg: UnlearnConfig,
    weights_dir: str | Path | None,
    influence_dir: str | Path | None,
    eval_fn: EvalFn | None,
    eval_every: int,
    merge: bool,
    source: str,
    forget_rows: Sequence[Row],
    retain_rows: Sequence[Row],
) -> dict[str, Any]:
    """The run's resolved settings as JSON values (compared to decide reuse, refusal or resume of an out dir)."""
    config = {
        "method": method,
        "params": asdict(params),
        "train": cfg.to_dict(),
        "weights_dir": str(weights_dir) if weights_dir is not None else None,
        "influence_dir": str(influence_dir) if influence_dir is not None else None,
        "eval_every": eval_every if eval_fn is not None else 0,
        "merge": merge,
        "forget_hash": rows_hash(forget_rows),
        "retain_hash": rows_hash(retain_rows),
        "source_model": source,
    }
    return dict(json.loads(json.dumps(config, default=str)))


def _resolve_method(
    method: str, params: Any, train: UnlearnConfig | None, eval_fn: EvalFn | None, eval_every: int
) -> tuple[Method, Any, UnlearnConfig]:
    """The registry entry, its params (default: the params class's defaults) and the validated recipe."""
    spec = get_method(method)
    params = spec.params_cls() if params is None else params
    if not isinstance(params, spec.params_cls):
        raise RapidunError(f"--method {method} takes {spec.params_cls.__name__}, got {type(params).__name__}")
    cfg = train or UnlearnConfig()
    cfg.validate()
    if eval_every < 0:
        raise RapidunError(f"--eval-every must be >= 0, got {eval_every}")
    if eval_every and eval_fn is None:
        raise RapidunError("--eval-every needs an evaluation (pass --eval-data)")
    return spec, cast(Any, params), cfg  # a params dataclass; isinstance above narrowed it to object


def _check_inputs(
    spec: Method,
    method: str,
    weights_dir: str | Path | None,
    influence_dir: str | Path | None,
    forget_rows: Sequence[Row],
    retain_rows: Sequence[Row],
) -> None:
    """Warn about --weights/--influence the method ignores; refuse a weights dir made for other rows (before any
    tokenisation or training)."""
    uses_influence = getattr(spec, "uses_influence", False)
    reads_weights = uses_influence or getattr(spec, "takes_weights", False)
    if influence_dir is not None and not uses_influence:
        log.warning("--influence is used by the influence-weighted methods only; '%s' ignores it", method)
    if weights_dir is not None and not reads_weights:
        log.warning("--weights is not read by '%s'; it ignores it", method)
    if weights_dir is not None and reads_weights:
        check_weights_dir(Path(weights_dir), forget_rows, retain_rows)


def _record_costs(run: dict[str, Any], ledger: CostLedger, diverged: TrainingDiverged | None) -> None:
    """Per-stage costs, the method's wall clock (every stage except evaluations made during training) and peaks."""
    stages = stage_costs(ledger)
    run["stages"] = stages
    # A resumed run adds the training time recorded at its checkpoint; stages before training that an interrupted
    # run had finished (e.g. influence in OUT/influence, then reused) count only what this invocation spent on them.
    run["wall_clock_s"] = sum(v["seconds"] for k, v in stages.items() if k != "evaluation")
    run["evaluation_s"] = stages.get("evaluation", {}).get("seconds", 0.0)
    run["peak_rss_mb"] = max(v["peak_rss_mb"] for v in stages.values())
    run["peak_cuda_mb"] = max(v["peak_cuda_mb"] for v in stages.values())
    if diverged is not None:
        run["diverged"] = {"step": diverged.step + 1, "message": str(diverged)}
