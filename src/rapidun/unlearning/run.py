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
from rapidun.modeling.load import save_model
from rapidun.training.sft import train_model
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.gradient_run import run_gradient
from rapidun.unlearning.inputs import check_rows, encode_unlearn_data
from rapidun.unlearning.kinds import EditMethod, GradientMethod, MethodContext
from rapidun.unlearning.outputs import clear_item, clear_run, frozen_checksum, merge_existing_adapter, stage_costs
from rapidun.unlearning.registry import get_method
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
    elif saved is not None and saved != config:
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
    method: str = "rapidun",
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
    ``train``: the training recipe; ``eval_fn(model) -> {"asr_seen": .., "clean_ppl": .., ...}`` is called before
    training, every ``eval_every`` steps and at the end, and picks the adapter kept (rule in ``run.json``)."""
    spec = get_method(method)
    params = spec.params_cls() if params is None else params
    if not isinstance(params, spec.params_cls):
        raise RapidunError(f"--method {method} takes {spec.params_cls.__name__}, got {type(params).__name__}")
    params = cast(Any, params)  # a params dataclass; isinstance above narrowed it to object
    cfg = train or UnlearnConfig()
    cfg.validate()
    if eval_every < 0:
        raise RapidunError(f"--eval-every must be >= 0, got {eval_every}")
    if eval_every and eval_fn is None:
        raise RapidunError("--eval-every needs an evaluation (pass --eval-data)")
    check_rows(forget_rows, retain_rows)
    check_max_length(model, params.train.max_length if spec.kind == "retrain" else cfg.max_length)
    if (weights_dir is not None or influence_dir is not None) and not getattr(spec, "uses_influence", False):
        log.warning("--weights/--influence are used by rapidun and self_only only; '%s' ignores them", method)
    out = ensure_dir(out_dir)
    config = json.loads(
        json.dumps(
            {
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
            },
            default=str,
        )
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
    diverged = None
    result_model: Any = None
    if isinstance(spec, GradientMethod | EditMethod):
        with ledger.stage("tokenize"):
            data = encode_unlearn_data(forget_rows, retain_rows, tokenizer, cfg.max_length, cfg.prompt_style)
        run.update(n_forget_with_clean_response=data.n_clean, truncated_rows=data.truncated)
        ctx = MethodContext(
            merge_existing_adapter(model),
            tokenizer,
            data,
            cfg,
            out,
            ledger,
            Path(weights_dir) if weights_dir is not None else None,
            Path(influence_dir) if influence_dir is not None else None,
            overwrite,
            progress,
            accelerator,
        )
        if isinstance(spec, GradientMethod):
            fields, result_model, diverged = run_gradient(
                spec, params, ctx, name=method, eval_fn=eval_fn, eval_every=eval_every, merge=merge
            )
            run.update(fields)
        else:
            run.update(_run_edit(spec, params, ctx))
            result_model = ctx.model
    else:
        fields, result_model = _run_retrain(
            merge_existing_adapter(model),
            tokenizer,
            retain_rows,
            out,
            params.train,
            ledger,
            merge,
            accelerator,
            progress,
            source,
        )
        run.update(fields)
    stages = stage_costs(ledger)
    run["stages"] = stages
    # The method's cost: every stage except evaluations made during training. A resumed run adds the training
    # time recorded at its checkpoint; stages before training that an interrupted run had finished (e.g. influence
    # in OUT/influence, then reused) count only what this invocation spent on them.
    run["wall_clock_s"] = sum(v["seconds"] for k, v in stages.items() if k != "evaluation")
    run["evaluation_s"] = stages.get("evaluation", {}).get("seconds", 0.0)
    run["peak_rss_mb"] = max(v["peak_rss_mb"] for v in stages.values())
    run["peak_cuda_mb"] = max(v["peak_cuda_mb"] for v in stages.values())
    if diverged is not None:
        run["diverged"] = {"step": diverged.step + 1, "message": str(diverged)}
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


def _run_edit(spec: EditMethod, params: Any, ctx: MethodContext) -> dict[str, Any]:
    """Fisher methods: edit the base weights in place and save the merged model to ``OUT/merged``."""
    before = frozen_checksum(ctx.model, frozen_only=False)
    summary = spec.apply(ctx, params)
    changed = frozen_checksum(ctx.model, frozen_only=False) != before
    if not changed:
        log.warning("the %s edit changed no weight (nothing met its selection rule)", spec.description)
    with ctx.ledger.stage("save"):
        if ctx.is_main:
            save_model(ctx.model, ctx.tokenizer, ctx.out_dir / "merged")
    return {
        "edit": summary,
        "base_weights_changed": changed,
        "steps": 0,
        "losses": [],
        "final_loss": None,
        "outputs": {"adapter": None, "merged": "merged"},
        "note": "this method edits base weights by design; the output is a merged model, not an adapter",
    }


def _run_retrain(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    out: Path,
    recipe: Any,
    ledger: CostLedger,
    merge: bool,
    accelerator: Any,
    progress: bool,
    source: str,
) -> tuple[dict[str, Any], Any]:
    """The ``rapidun train`` recipe on the retain (clean) rows, written into ``out`` by ``train_model``. Returns the
    run.json fields and the trained model (``model`` itself: PEFT injects its LoRA layers in place), or None when a
    finished retraining was reused."""
    done = read_manifest(out)
    trained: Any = None
    if done is not None and done.get("kind") == "train":
        log.info("reusing the finished retraining in %s", out)
        previous = json.loads((out / "run.json").read_text())
        train_run = previous.get("retrain", previous)
    else:
        with ledger.stage("training"):
            train_run = train_model(
                model, tokenizer, rows, out, recipe, accelerator=accelerator, progress=progress, source=source
            ).run
        trained = model
    if merge:
        log.warning("--merge is not applied to retrain; its output is what 'rapidun train' writes")
    lora = recipe.lora is not None
    fields = {
        "retrain": train_run,
        "steps": train_run["steps"],
        "losses": train_run["losses"],
        "final_loss": train_run["final_loss"],
        "recipe": asdict(recipe),
        "outputs": {"adapter": "." if lora else None, "merged": None if lora else "."},
    }
    return fields, trained
