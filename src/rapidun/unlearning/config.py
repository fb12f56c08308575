"""Training settings shared by every gradient-based unlearning method (docs/method.md section 4, faithful defaults)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from rapidun.errors import RapidunError
from rapidun.settings import CHECKPOINT_EVERY, MAX_LENGTH, PROMPT_STYLES, SEED, from_mapping, setting
from rapidun.training.optim import SCHEDULES, OptimConfig
from rapidun.training.sft import LoraSettings


@dataclass(frozen=True)
class UnlearnConfig:
    """One unlearning run's recipe. Every default is the released RapidUn code's, except where a comment says."""

    epochs: float = setting(2.0, "passes of |F| + |R| draws")
    batch_size: int = setting(1, "samples per optimiser step")
    # 1 x 4 accumulation equals 4 x 1
    micro_batch_size: int = setting(0, "samples per forward pass; 0 = the whole batch")
    # each draw is a forget row with probability 1 / (1 + 3)
    retain_ratio: float = setting(3.0, "retain:forget draw odds")
    lr: float = setting(6e-5, "AdamW learning rate")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    grad_clip: float | None = setting(1.0, "gradient-norm clip (0 or none = off)")
    warmup_steps: int = setting(0, "linear warm-up steps")
    lr_schedule: str = setting("cosine", "learning-rate schedule", choices=SCHEDULES)
    lora: LoraSettings = setting(help="the unlearning adapter", factory=LoraSettings)
    clean_coef: float = setting(0.5, "weight of CE(clean response | triggered prompt) in the forget term")
    ascent_coef: float = setting(1.0, "weight of -CE(poisoned response | triggered prompt) in the forget term")
    # rapidun option, not in the released code: no push past the bound
    bounded_ascent: float | None = setting(None, "cap the ascent term at min(CE, BOUND) (none: unbounded, as released)")
    max_abs_loss: float | None = setting(
        50.0, "stop when a step loss is past this bound or non-finite (0 or none: only non-finite)"
    )
    max_length: int = setting(MAX_LENGTH, "tokens per example (prompt + response)")
    prompt_style: str = setting("alpaca", "prompt template; the same as training and evaluation", choices=PROMPT_STYLES)
    seed: int = setting(SEED, "seed of sampling, LoRA init and dropout")
    checkpoint_every: int = setting(CHECKPOINT_EVERY, "optimiser steps between resumable checkpoints (0 = none)")
    gradient_checkpointing: bool = setting(False, "trade compute for activation memory")
    ppl_tolerance: float = setting(0.10, "best-checkpoint rule: clean ppl <= (1 + X) x the starting clean ppl")
    select_metric: str = setting(
        "asr_seen", "best-checkpoint rule: lowest value of this evaluation key wins", cli=False
    )
    constraint_metric: str = setting("clean_ppl", "best-checkpoint rule: the constrained evaluation key", cli=False)

    def validate(self) -> None:
        """Raise :class:`RapidunError` naming the flag for a setting that cannot work."""
        checks: list[tuple[bool, str]] = [
            (self.epochs > 0 and math.isfinite(self.epochs), f"--epochs must be > 0, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.micro_batch_size >= 0, f"--micro-batch-size must be >= 0, got {self.micro_batch_size}"),
            (
                self.retain_ratio >= 0 and math.isfinite(self.retain_ratio),
                f"--retain-ratio must be >= 0, got {self.retain_ratio}",
            ),
            (self.lr > 0 and math.isfinite(self.lr), f"--lr must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (self.grad_clip is None or self.grad_clip > 0, f"--grad-clip must be > 0, got {self.grad_clip}"),
            (self.warmup_steps >= 0, f"--warmup-steps must be >= 0, got {self.warmup_steps}"),
            (self.lr_schedule in SCHEDULES, f"--lr-schedule must be one of {', '.join(SCHEDULES)}"),
            (self.lora.r >= 1, f"--lora-r must be >= 1, got {self.lora.r}"),
            (self.lora.alpha > 0, f"--lora-alpha must be > 0, got {self.lora.alpha}"),
            (0 <= self.lora.dropout < 1, f"--lora-dropout must be in [0, 1), got {self.lora.dropout}"),
            (bool(self.lora.targets), "--targets must name at least one module"),
            (
                self.bounded_ascent is None or self.bounded_ascent > 0,
                f"--bounded-ascent must be > 0, got {self.bounded_ascent}",
            ),
            (
                self.max_abs_loss is None or self.max_abs_loss > 0,
                f"--max-abs-loss must be > 0, got {self.max_abs_loss}",
            ),
            (self.max_length >= 8, f"--max-length must be >= 8, got {self.max_length}"),
            (self.checkpoint_every >= 0, f"--checkpoint-every must be >= 0, got {self.checkpoint_every}"),
            (self.ppl_tolerance >= 0, f"--ppl-tolerance must be >= 0, got {self.ppl_tolerance}"),
        ]
        for ok, message in checks:
            if not ok:
                raise RapidunError(message)

    def optim(self) -> OptimConfig:
        return OptimConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            warmup_steps=self.warmup_steps,
            schedule=self.lr_schedule,
        )

    def with_targets_resolved(self, model: Any) -> UnlearnConfig:
        """This recipe with ``targets: auto`` replaced by the layer names it resolves to on ``model``, so run.json,
        the manifest and a study's results record the adapted layers (a Llama's are the seven names of old runs,
        which stay reusable)."""
        from rapidun.modeling.targets import resolve_targets  # torch: only once a model is loaded

        return replace(self, lora=replace(self.lora, targets=resolve_targets(model, self.lora.targets)))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lora"]["targets"] = list(self.lora.targets)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "unlearning settings") -> UnlearnConfig:
        """Inverse of :meth:`to_dict`: unknown keys and wrong types are errors naming the key."""
        config: UnlearnConfig = from_mapping(cls, data, where)
        return config
