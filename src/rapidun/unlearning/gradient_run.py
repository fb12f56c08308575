"""The training path shared by every gradient-based method: weights -> new LoRA -> one loop -> checks -> adapter."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rapidun.artifacts import atomic_write_json
from rapidun.costs import StageCost
from rapidun.errors import RapidunError
from rapidun.modeling.load import save_model
from rapidun.training.checkpoint import find_checkpoint
from rapidun.training.loop import LoopConfig, TrainingDiverged, train_loop
from rapidun.training.sft import apply_lora
from rapidun.unlearning.kinds import GradientMethod, MethodContext, MethodWeights
from rapidun.unlearning.objective import RefreshFn, WeightState, make_loss_fn, reference_nll
from rapidun.unlearning.outputs import check_lora_trained, frozen_checksum, load_state, lora_change
from rapidun.unlearning.sampling import forget_draw_count, mixture_schedule
from rapidun.unlearning.selection import EvalFn, EvalTracker, SelectionRule
from rapidun.unlearning.weight_application import Application, draw_probabilities

log = logging.getLogger(__name__)
PROGRESS_FILE = "training_progress.json"


def check_method_weights(mw: MethodWeights, n_forget: int, n_retain: int) -> None:
    """Weights must have one finite, non-negative value per row (a zero weight drops the row's gradient)."""
    for name, w, n in (("forget", mw.forget, n_forget), ("retain", mw.retain, n_retain)):
        if w.shape != (n,):
            raise RapidunError(f"{name} weights have shape {w.shape} but there are {n} {name} rows; recompute them")
        if not np.isfinite(w).all() or (w < 0).any():
            bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
            raise RapidunError(f"{name} weight of row {bad} is {w[bad]!r}; weights must be finite and >= 0")


def build_schedule(
    method: GradientMethod, params: Any, ctx: MethodContext, mw: MethodWeights | None = None
) -> list[list[int]]:
    """The method's draws (docs/method.md section 4): "mixed" retain:forget draws; "forget_all" forget rows only,
    as many draws as "mixed"; "forget_matched" forget rows only, as many as the mixed schedule's forget draws;
    "forget" forget rows only, epochs x |F| draws. A ``sampled`` application draws rows in proportion to ``mw``;
    the batch is at least the application's ``min_batch`` (docs/method.md section 5)."""
    kind = method.schedule(params)
    application = method.application(params)
    cfg, data = ctx.cfg, ctx.data
    n_retain = 0 if kind == "forget" else data.n_retain
    sampled = application.how == "sampled" and mw is not None
    forget_p = draw_probabilities(mw.forget) if sampled and mw is not None else None
    retain_p = draw_probabilities(mw.retain) if sampled and mw is not None and n_retain else None

    def draw(forget_only: bool, draws: int | None = None) -> list[list[int]]:
        return mixture_schedule(
            data.n_forget,
            n_retain,
            epochs=cfg.epochs,
            batch_size=max(cfg.batch_size, application.min_batch),
            retain_ratio=cfg.retain_ratio,
            seed=cfg.seed,
            forget_only=forget_only,
            draws=draws,
            forget_p=forget_p,
            retain_p=retain_p,
        )

    if kind == "forget_matched":
        return draw(True, max(1, forget_draw_count(draw(False), data.n_forget)))
    return draw(kind != "mixed")


def applied_state(
    mw: MethodWeights, application: Application, schedule: list[list[int]], refresh: RefreshFn | None
) -> WeightState:
    """The loss weights of a run: ``mw`` multiplied into the loss, all ones when rows were drawn in proportion to
    them (``sampled``), or ``mw`` normalised within each batch of ``schedule`` (``batch_normalised``)."""
    forget, retain = mw.forget.astype(np.float64), mw.retain.astype(np.float64)
    if application.how == "sampled":
        forget, retain = np.ones_like(forget), np.ones_like(retain)
    batches = schedule if application.how == "batch_normalised" else None
    return WeightState(forget, retain, refresh=refresh, batches=batches)


def checkpoint_step(ctx: MethodContext) -> int:
    ckpt = find_checkpoint(ctx.out_dir)
    return int(json.loads((ckpt / "state.json").read_text())["step"]) if ckpt is not None else 0


def training_seconds_before(out: Path, resumed: int) -> float:
    """Training seconds recorded at the checkpoint a run resumes from (0 for a fresh run or an unknown record)."""
    path = out / PROGRESS_FILE
    if resumed == 0 or not path.is_file():
        return 0.0
    record = json.loads(path.read_text())
    return float(record["training_s"]) if record.get("step") == resumed else 0.0


def new_lora_model(ctx: MethodContext) -> Any:
    """The starting model with a fresh LoRA adapter (the only trained weights); gradient checkpointing on request."""
    try:
        model = apply_lora(ctx.model, ctx.cfg.lora)
    except ValueError as exc:  # peft's NoMatchingPeftModuleError is a ValueError
        names = sorted({n.split(".")[-1] for n, m in ctx.model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise RapidunError(
            f"--targets {','.join(ctx.cfg.lora.targets)} match no layer of this model "
            f"({str(exc).splitlines()[0][:120]}); its linear layers are named: {', '.join(names[:12])}"
        ) from exc
    if ctx.cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()  # without it, frozen embeddings give LoRA no gradient
    return model


@dataclass
class LoopOutcome:
    """What the training loop left: per-step losses and gradient norms, the step it resumed from, the training
    seconds recorded before that resume, and the divergence that stopped it (None when it finished)."""

    losses: list[float]
    grad_norms: list[float]
    resumed: int
    prior_s: float
    diverged: TrainingDiverged | None


def start_tracker(
    ctx: MethodContext, eval_fn: EvalFn | None, eval_every: int, n_steps: int, model: Any, resumed: int
) -> EvalTracker | None:
    """The evaluation tracker (main process only: it alone saves the adapter), restored from a checkpoint and with
    the step-0 evaluation done; None without ``eval_fn``."""
    if eval_fn is None or not ctx.is_main:
        return None
    cfg = ctx.cfg
    rule = SelectionRule(cfg.select_metric, cfg.constraint_metric, cfg.ppl_tolerance)
    tracker = EvalTracker(eval_fn, eval_every, n_steps, rule, ctx.out_dir)
    tracker.restore(resumed)
    if not any(e["step"] == 0 for e in tracker.evaluations):
        with ctx.ledger.stage("evaluation"):
            tracker.evaluate(0, model)
    return tracker


def train_adapter(
    model: Any, loss_fn: Any, schedule: list[list[int]], ctx: MethodContext, tracker: EvalTracker | None, name: str
) -> LoopOutcome:
    """Run the loop (resuming from ``ctx.out_dir/checkpoint``); the ledger's training stage gets the whole training
    time, also the part before an interruption, and evaluations inside the loop are moved to an evaluation stage."""
    cfg, out = ctx.cfg, ctx.out_dir
    resumed = checkpoint_step(ctx)
    before_loop = tracker.seconds if tracker is not None else 0.0
    prior_s = training_seconds_before(out, resumed)
    seen: list[float] = []
    start = time.perf_counter()

    def on_step(step: int, loss: float, m: Any) -> bool:
        seen.append(loss)
        stop = tracker.on_step(step, loss, m) if tracker is not None else False
        if ctx.is_main and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            # The loop checkpoints right after this hook: record the training time up to here, so a run resumed
            # from this checkpoint reports the whole training cost, not only its own part.
            evals = tracker.seconds - before_loop if tracker is not None else 0.0
            spent = prior_s + time.perf_counter() - start - evals
            atomic_write_json(out / PROGRESS_FILE, {"step": step, "training_s": spent})
        return stop

    loop_cfg = LoopConfig(
        micro_batch_size=cfg.micro_batch_size,
        checkpoint_every=cfg.checkpoint_every,
        max_abs_loss=cfg.max_abs_loss,
        desc=f"unlearn ({name})",
        progress=ctx.progress,
    )
    outcome = LoopOutcome([], [], resumed, prior_s, None)
    with ctx.ledger.stage("training"):
        try:
            res = train_loop(
                model,
                loss_fn,
                schedule,
                cfg.optim(),
                loop_cfg,
                run_dir=out,
                accelerator=ctx.accelerator,
                on_step=on_step,
            )
            outcome.losses, outcome.resumed, outcome.grad_norms = res.losses, res.resumed_from, res.grad_norms
        except TrainingDiverged as exc:
            outcome.diverged, outcome.losses = exc, seen
            model.eval()
    training_stage = ctx.ledger.stages[-1]
    training_stage.seconds += prior_s  # the part run before an interruption
    if tracker is not None:  # evaluations inside the loop are reported as evaluation, not training
        in_loop = tracker.seconds - before_loop
        training_stage.seconds -= in_loop
        ctx.ledger.stages.append(StageCost("evaluation", seconds=in_loop))
    return outcome


def save_outputs(model: Any, ctx: MethodContext, merge: bool) -> Any:
    """Save the adapter into ``ctx.out_dir`` (and the merged model into ``merged/``); returns the result model."""
    with ctx.ledger.stage("save"):
        if ctx.is_main:
            model.save_pretrained(ctx.out_dir, safe_serialization=True)
    if merge and ctx.is_main:
        with ctx.ledger.stage("merge"):
            model = model.merge_and_unload()
            save_model(model, ctx.tokenizer, ctx.out_dir / "merged")
    return model


def _weight_types(model: Any) -> dict[str, str]:
    """run.json's weight types: the frozen base (``--model-dtype``) and the trained adapter (float32 always)."""
    kinds = {"base": False, "adapter": True}
    return {
        kind: next((str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad == trained), "")
        for kind, trained in kinds.items()
    }


def run_gradient(
    method: GradientMethod,
    params: Any,
    ctx: MethodContext,
    *,
    name: str,
    eval_fn: EvalFn | None,
    eval_every: int,
    merge: bool,
) -> tuple[dict[str, Any], Any, TrainingDiverged | None]:
    """Train the method's LoRA adapter into ``ctx.out_dir``; returns (run.json fields, model, divergence)."""
    cfg, data = ctx.cfg, ctx.data
    mw = method.weights(ctx, params)
    check_method_weights(mw, data.n_forget, data.n_retain)
    terms = method.terms(cfg, params)
    schedule = build_schedule(method, params, ctx, mw)
    application = method.application(params)
    torch.manual_seed(cfg.seed)
    model = new_lora_model(ctx)
    before = frozen_checksum(model)
    reference = None
    if method.needs_reference:  # the frozen starting model: the backbone with the new adapter disabled
        with ctx.ledger.stage("reference"):
            reference = reference_nll(model, data.forget, ctx.pad_id)
    refresh = method.refresh(model, ctx, params) if method.refresh is not None else None
    state = applied_state(mw, application, schedule, refresh)
    loss_fn = make_loss_fn(model, data, state, terms, ctx.pad_id, reference)
    tracker = start_tracker(ctx, eval_fn, eval_every, len(schedule), model, checkpoint_step(ctx))
    loop = train_adapter(model, loss_fn, schedule, ctx, tracker, name)
    kept = "final"
    if tracker is not None and tracker.best_state is not None:
        load_state(model, tracker.best_state)
        kept = f"best (step {tracker.best_step})"
    check = check_lora_trained(model, before) if loop.diverged is None else dict(lora_change(model))
    result_model = save_outputs(model, ctx, merge)
    fields: dict[str, Any] = {
        "steps": len(schedule),
        "steps_done": (loop.diverged.step if loop.diverged is not None else len(schedule)),
        "resumed_from_step": loop.resumed,
        "training_s_before_resume": loop.prior_s,
        "final_loss": loop.losses[-1] if loop.losses else None,
        "losses": loop.losses,
        "grad_norms": loop.grad_norms,
        "grad_clip": cfg.grad_clip,
        "clipped_steps": sum(n > cfg.grad_clip for n in loop.grad_norms) if cfg.grad_clip is not None else 0,
        "objective": asdict(terms),
        "weights": {
            "source": mw.source,
            "summary": mw.summary,
            "refreshed_at_steps": state.refreshed_at if refresh is not None else [],
            "refresh_seconds": state.refresh_seconds,  # part of the training time
            "application": asdict(application),
        },
        "batch_size": len(schedule[0]) if schedule else cfg.batch_size,
        "selection": {
            "rule": tracker.rule.describe() if tracker is not None else None,
            "best_step": tracker.best_step if tracker is not None else None,
            "kept_state": kept,
        },
        "evaluations": tracker.evaluations if tracker is not None else [],
        "lora_check": check,
        "dtype": _weight_types(model),
        "outputs": {"adapter": ".", "merged": "merged" if merge else None},
    }
    if reference is not None:
        fields["reference_nll"] = reference.tolist()
    return fields, result_model, loop.diverged
