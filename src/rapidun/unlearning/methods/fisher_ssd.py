"""``fisher_ssd``: selective synaptic dampening (Foster et al. 2023, arXiv 2308.07707). EDITS BASE WEIGHTS.

With diagonal Fisher F_f (forget rows, poisoned responses) and F_r (retain rows) of the LoRA-target linear weights:
for every element with F_f > alpha F_r, theta <- theta x min(1, lambda F_r / F_f). Defaults alpha = 10,
lambda = 1 (the paper's selection weight and dampening constant). No training loop and no adapter: the edited
model is saved as a merged model directory ``OUT/merged``.

SSD compares the forget rows with the *training data* D. ``importance`` says what stands in for D: ``"auto"``
(default: ``"train"`` when ``train_file`` is given -- a study passes its pack's ``train.jsonl`` -- else the retain
set, recorded as a fallback), ``"retain"`` (the retain set, the default before round 4), ``"train"`` (the rows of ``train_file``, e.g. a pack's ``train.jsonl``, poisoned
rows included, at most ``max_train_rows`` of them, a seeded subset) or ``"forget_retain"`` (the union of the forget
and retain rows, a labelled stand-in when the training data is not at hand). ``run.json`` records which was used.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rapidun.data.rows import load_rows
from rapidun.data.tokenize import Encoded, encode_rows
from rapidun.errors import RapidunError
from rapidun.modeling.targets import AUTO
from rapidun.unlearning.fisher_info import diagonal_fisher, target_weights
from rapidun.unlearning.kinds import EditMethod, MethodContext


@dataclass(frozen=True)
class FisherSsdParams:
    alpha: float = 10.0  # selection weight: dampen where F_forget > alpha F_retain
    lam: float = 1.0  # dampening constant: factor min(1, lam F_retain / F_forget)
    targets: tuple[str, ...] = (AUTO,)  # the projections LoRA would adapt (every architecture)
    importance: str = field(
        default="auto",
        metadata={
            "help": "what stands in for the training data: auto (train if train_file, else retain) | retain | "
            "train | forget_retain"
        },
    )
    train_file: str | None = field(default=None, metadata={"help": "training rows (.jsonl/.json) for importance=train"})
    max_train_rows: int = field(default=0, metadata={"help": "seeded subset of train_file rows (0 = all)"})

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.lam > 0):
            raise RapidunError(f"fisher_ssd parameters alpha and lam must be > 0, got {self.alpha}, {self.lam}")
        if self.importance not in IMPORTANCE:
            raise RapidunError(f"fisher_ssd parameter importance must be one of {', '.join(IMPORTANCE)}")
        needs_file = self.importance == "train" or (self.importance == "auto" and self.train_file is not None)
        if needs_file and (self.train_file is None or not Path(self.train_file).is_file()):
            raise RapidunError(
                f"fisher_ssd importance=train needs train_file, an existing rows file (got {self.train_file!r}); "
                "pass --param train_file=PACK/train.jsonl"
            )
        if self.max_train_rows < 0:
            raise RapidunError(f"fisher_ssd parameter max_train_rows must be >= 0, got {self.max_train_rows}")


IMPORTANCE = ("auto", "retain", "train", "forget_retain")


def importance_examples(ctx: MethodContext, params: FisherSsdParams) -> tuple[list[Encoded], str]:
    """The encoded rows whose Fisher stands for the training data's, and a label saying which they are."""
    if params.importance == "auto" and params.train_file is None:
        return list(ctx.data.retain), "retain set (fallback: no train_file given)"
    if params.importance == "retain":
        return list(ctx.data.retain), "retain set"
    if params.importance == "forget_retain":
        return [*ctx.data.forget, *ctx.data.retain], "forget + retain rows (stand-in for the training data)"
    assert params.train_file is not None
    rows = load_rows(params.train_file)
    if params.max_train_rows and len(rows) > params.max_train_rows:
        keep = sorted(random.Random(f"{ctx.cfg.seed}:fisher_train").sample(range(len(rows)), params.max_train_rows))
        rows = [rows[i] for i in keep]
    enc = encode_rows(rows, ctx.tokenizer, ctx.cfg.max_length, ctx.cfg.prompt_style, name=params.train_file)
    if not enc.examples:
        raise RapidunError(f"fisher_ssd train_file '{params.train_file}' keeps no row within --max-length")
    return enc.examples, f"training data: {len(enc.examples)} rows of {params.train_file}"


@torch.no_grad()
def dampen(weight: torch.Tensor, f_forget: torch.Tensor, f_retain: torch.Tensor, alpha: float, lam: float) -> int:
    """Apply SSD to ``weight`` in place; returns the number of dampened elements."""
    select = f_forget > alpha * f_retain
    factor = (lam * f_retain / f_forget.clamp_min(1e-30)).clamp(max=1.0)
    weight.mul_(torch.where(select, factor, torch.ones_like(factor)).to(weight.dtype))
    return int(select.sum())


def fisher_ssd_apply(ctx: MethodContext, params: FisherSsdParams) -> dict[str, Any]:
    named = target_weights(ctx.model, params.targets)
    weights = [p for _, p in named]
    with ctx.ledger.stage("fisher"):
        f_f = diagonal_fisher(ctx.model, ctx.data.forget, weights, ctx.pad_id, "fisher (forget)", ctx.progress)
        examples, used = importance_examples(ctx, params)
        f_r = diagonal_fisher(ctx.model, examples, weights, ctx.pad_id, "fisher (importance)", ctx.progress)
    with ctx.ledger.stage("edit"):
        changed = {n: dampen(p, a, b, params.alpha, params.lam) for (n, p), a, b in zip(named, f_f, f_r, strict=True)}
    total = sum(p.numel() for p in weights)
    return {
        "variant": "ssd",
        "alpha": params.alpha,
        "lam": params.lam,
        "importance_data": used,
        "edited_tensors": len(named),
        "dampened_elements": sum(changed.values()),
        "tracked_elements": total,
        "formula": "theta *= min(1, lam F_r / F_f) where F_f > alpha F_r",
    }


METHOD = EditMethod(
    params_cls=FisherSsdParams,
    apply=fisher_ssd_apply,
    description="Fisher selective synaptic dampening (edits base weights; saved as a merged model)",
)
