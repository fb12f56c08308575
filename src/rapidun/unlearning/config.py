"""Training settings shared by every gradient-based unlearning method (docs/method.md section 4, faithful defaults)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rapidun.errors import RapidunError
from rapidun.training.optim import SCHEDULES, OptimConfig
from rapidun.training.sft import LoraSettings


@dataclass(frozen=True)
class UnlearnConfig:
    """One unlearning run's recipe. Every default is the released RapidUn code's, except where a comment says."""

    epochs: float = 2.0
    batch_size: int = 1
    micro_batch_size: int = 0  # samples per forward pass; 0 = the whole batch (1 x 4 accumulation equals 4 x 1)
    retain_ratio: float = 3.0  # retain:forget draw odds; each draw is a forget row with probability 1 / (1 + 3)
    lr: float = 6e-5
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    warmup_steps: int = 0
    lr_schedule: str = "cosine"
    lora: LoraSettings = field(default_factory=LoraSettings)
    clean_coef: float = 0.5  # weight of CE(clean response | triggered prompt) in the forget term
    ascent_coef: float = 1.0  # weight of -CE(poisoned response | triggered prompt) in the forget term
    bounded_ascent: float | None = None  # rapidun option: the ascent term uses min(CE, bound) (no push past bound)
    max_abs_loss: float | None = 50.0  # rapidun option: a step loss past this bound (or non-finite) stops training
    max_length: int = 256
    prompt_style: str = "alpaca"
    seed: int = 42
    checkpoint_every: int = 50
    gradient_checkpointing: bool = False
    ppl_tolerance: float = 0.10  # best-checkpoint rule: clean_ppl <= (1 + tolerance) x the starting clean_ppl
    select_metric: str = "asr_seen"  # best-checkpoint rule: lowest value of this evaluation key wins
    constraint_metric: str = "clean_ppl"

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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lora"]["targets"] = list(self.lora.targets)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnlearnConfig:
        """Inverse of :meth:`to_dict` (unknown keys are an error naming the key)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise RapidunError(f"unknown unlearning setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(data)
        if isinstance(values.get("lora"), dict):
            lora = dict(values["lora"])
            if "targets" in lora:
                lora["targets"] = tuple(lora["targets"])
            values["lora"] = LoraSettings(**lora)
        return cls(**values)
