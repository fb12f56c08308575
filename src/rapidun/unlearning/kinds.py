"""The three kinds of unlearning method and what each is handed. Protocol-style: plain dataclasses of functions.

- :class:`GradientMethod`: produces per-sample weights for the shared objective (:mod:`.objective`) and trains a
  new LoRA adapter with the one loop; the backbone stays frozen.
- :class:`EditMethod`: no training loop; edits the base weights directly. Its output is a merged model directory,
  not an adapter, and it says so in ``run.json`` (``edits_base_weights: true``).
- :class:`RetrainMethod`: the ``rapidun train`` recipe on the retain (clean) rows, the speed-up reference.

Every kind answers the same capability questions (the registry reads them; docs/method.md section 5):
``uses_influence`` (reads influence scores or a weights directory), ``output`` (:data:`OUTPUTS`),
``edits_base``, ``needs_reference`` (keeps a frozen copy of the starting model), ``refreshes_weights`` (recomputes
its weights during training) and ``is_reference`` (the retraining reference that speed-ups are measured against).
A method file declares the ones its kind leaves open; the others are fixed by the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rapidun.costs import CostLedger
from rapidun.unlearning.config import UnlearnConfig
from rapidun.unlearning.inputs import UnlearnData
from rapidun.unlearning.objective import ObjectiveTerms, RefreshFn
from rapidun.unlearning.weight_application import Application

# What a run writes: a LoRA adapter on the unchanged starting model, a merged model directory with edited base
# weights, or whatever the ``rapidun train`` recipe writes (an adapter on the clean model, or a full model).
Output = Literal["adapter", "merged_model", "train_output"]
OUTPUTS: tuple[Output, ...] = ("adapter", "merged_model", "train_output")


@dataclass
class MethodContext:
    """Everything a method may use. ``model`` is the starting model (no new adapter yet)."""

    model: Any
    tokenizer: Any
    data: UnlearnData
    cfg: UnlearnConfig
    out_dir: Path
    ledger: CostLedger
    weights_dir: Path | None = None
    influence_dir: Path | None = None
    overwrite: bool = False
    progress: bool = True
    accelerator: Any = None

    @property
    def is_main(self) -> bool:
        """True in a single process and on rank 0 of a multi-process run: the one that writes files."""
        return self.accelerator is None or bool(self.accelerator.is_main_process)

    def barrier(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    @property
    def pad_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        return int(pad) if pad is not None else 0


@dataclass
class MethodWeights:
    """Per-sample weights: ``forget`` (nF,), ``retain`` (nR,); ``source`` says where they came from."""

    forget: np.ndarray
    retain: np.ndarray
    source: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GradientMethod:
    params_cls: type
    weights: Callable[[MethodContext, Any], MethodWeights]
    terms: Callable[[UnlearnConfig, Any], ObjectiveTerms]
    # "mixed" (retain:forget draws), "forget_all" (forget rows only, as many draws as "mixed") or "forget"
    # (forget rows only, epochs x |F| draws)
    schedule: Callable[[Any], str] = lambda params: "mixed"
    refresh: Callable[[Any, MethodContext, Any], RefreshFn | None] | None = None  # (training model, ctx, params)
    description: str = ""
    uses_influence: bool = False  # reads --weights / --influence (the others ignore them, with a warning)
    # the named weighting (rapidun.weighting.WEIGHTINGS) its influence weights apply, when it uses influence
    weighting: str | None = None
    needs_reference: bool = False  # keeps a frozen copy of the starting model for its loss (e.g. NPO)
    takes_weights: bool = False  # --weights DIR multiplies its per-row losses (a plug-in; no influence computed)
    # how its weights reach the update (multiplied into the loss, drawn, or normalised within each batch)
    application: Callable[[Any], Application] = lambda params: Application()
    kind: str = field(default="gradient", init=False)
    edits_base: bool = field(default=False, init=False)
    output: Output = field(default="adapter", init=False)
    is_reference: bool = field(default=False, init=False)

    @property
    def refreshes_weights(self) -> bool:
        """True when the forget weights are recomputed from the training model during training."""
        return self.refresh is not None


@dataclass(frozen=True)
class EditMethod:
    params_cls: type
    apply: Callable[[MethodContext, Any], dict[str, Any]]  # edits ctx.model in place, returns a summary
    description: str = ""
    kind: str = field(default="edit", init=False)
    edits_base: bool = field(default=True, init=False)
    output: Output = field(default="merged_model", init=False)
    uses_influence: bool = field(default=False, init=False)
    weighting: str | None = field(default=None, init=False)
    needs_reference: bool = field(default=False, init=False)
    refreshes_weights: bool = field(default=False, init=False)
    is_reference: bool = field(default=False, init=False)


@dataclass(frozen=True)
class RetrainMethod:
    params_cls: type
    description: str = ""
    kind: str = field(default="retrain", init=False)
    edits_base: bool = field(default=False, init=False)
    output: Output = field(default="train_output", init=False)
    uses_influence: bool = field(default=False, init=False)
    weighting: str | None = field(default=None, init=False)
    needs_reference: bool = field(default=False, init=False)
    refreshes_weights: bool = field(default=False, init=False)
    is_reference: bool = field(default=True, init=False)


def default_terms(cfg: UnlearnConfig, params: Any) -> ObjectiveTerms:
    """The full RapidUn objective with the configured coefficients and ascent bound."""
    return ObjectiveTerms(
        clean_coef=cfg.clean_coef,
        ascent_coef=cfg.ascent_coef,
        clean_term=True,
        retain_term=True,
        bounded_ascent=cfg.bounded_ascent,
    )
