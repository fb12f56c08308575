"""Running one method of each kind for :func:`rapidun.unlearning.run.unlearn`: gradient methods (a new LoRA
adapter, :mod:`.gradient_run`), edit methods (base weights edited in place, ``OUT/merged``) and retrain (the
``rapidun train`` recipe on the retain rows)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rapidun.artifacts import read_manifest
from rapidun.costs import CostLedger
from rapidun.data.rows import Row
from rapidun.modeling.load import save_model
from rapidun.training.loop import TrainingDiverged
from rapidun.training.sft import train_model
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.gradient_run import run_gradient
from rapidun.unlearning.inputs import encode_unlearn_data
from rapidun.unlearning.kinds import EditMethod, GradientMethod, MethodContext
from rapidun.unlearning.outputs import frozen_checksum, merge_existing_adapter
from rapidun.unlearning.registry import Method
from rapidun.unlearning.selection import EvalFn

log = logging.getLogger(__name__)


@dataclass
class RunInputs:
    """The data side of one run: model, tokenizer, rows, output dir, cost ledger and optional input dirs."""

    model: Any
    tokenizer: Any
    forget_rows: Sequence[Row]
    retain_rows: Sequence[Row]
    out: Path
    ledger: CostLedger
    weights_dir: str | Path | None
    influence_dir: str | Path | None


@dataclass
class RunOptions:
    """How one run is carried out (see :func:`unlearn`)."""

    eval_fn: EvalFn | None
    eval_every: int
    merge: bool
    overwrite: bool
    accelerator: Any
    progress: bool
    source: str


def run_method_kind(
    spec: Method, method: str, params: Any, cfg: UnlearnConfig, inp: RunInputs, opt: RunOptions
) -> tuple[dict[str, Any], Any, TrainingDiverged | None]:
    """Run the method of its kind; returns (run.json fields, result model, divergence or None)."""
    if isinstance(spec, GradientMethod | EditMethod):
        with inp.ledger.stage("tokenize"):
            data = encode_unlearn_data(
                inp.forget_rows, inp.retain_rows, inp.tokenizer, cfg.max_length, cfg.prompt_style
            )
        fields: dict[str, Any] = {"n_forget_with_clean_response": data.n_clean, "truncated_rows": data.truncated}
        ctx = MethodContext(
            merge_existing_adapter(inp.model),
            inp.tokenizer,
            data,
            cfg,
            inp.out,
            inp.ledger,
            Path(inp.weights_dir) if inp.weights_dir is not None else None,
            Path(inp.influence_dir) if inp.influence_dir is not None else None,
            opt.overwrite,
            opt.progress,
            opt.accelerator,
        )
        if isinstance(spec, EditMethod):
            fields.update(_run_edit(spec, params, ctx))
            return fields, ctx.model, None
        more, result_model, diverged = run_gradient(
            spec, params, ctx, name=method, eval_fn=opt.eval_fn, eval_every=opt.eval_every, merge=opt.merge
        )
        fields.update(more)
        return fields, result_model, diverged
    fields, result_model = _run_retrain(
        merge_existing_adapter(inp.model),
        inp.tokenizer,
        inp.retain_rows,
        inp.out,
        params.train,
        inp.ledger,
        opt.merge,
        opt.accelerator,
        opt.progress,
        opt.source,
    )
    return fields, result_model, None


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
