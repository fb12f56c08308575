"""Settings of the relearning check (``rapidun relearn``; docs/method.md section 6): how many fine-tuning steps, on
which share of the forget rows, with which recipe, and how the unlearned and relearned models are evaluated.

Every field carries its default and its help text (``metadata["help"]``), so the CLI builds its flags from here and
each default lives once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from rapidun.errors import RapidunError
from rapidun.settings import PROMPT_STYLES
from rapidun.training.sft import LoraSettings, TrainConfig


def _setting(default: Any, text: str) -> Any:
    return field(default=default, metadata={"help": text})


def flag_name(name: str) -> str:
    """The CLI flag of a config field: ``eval_max`` -> ``--eval-max``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class RelearnConfig:
    """Relearning = fine-tuning a copy of the unlearned model (its adapter merged) for ``steps`` optimiser steps on a
    seeded share of the forget rows, with the training recipe of ``rapidun train``
    (:func:`rapidun.training.sft.train_model`: AdamW, cosine schedule, token-mean response cross-entropy): every
    weight by default, or a fresh LoRA on top (``lora_r`` > 0; cheaper for large models, a weaker attack)."""

    steps: int = _setting(20, "optimiser steps of the relearning fine-tune")
    share: float = _setting(0.1, "share of the forget rows used for relearning, in (0, 1]; at least one row")
    rows: int = _setting(0, "exact number of forget rows used for relearning (> 0 overrides --share)")
    lr: float = _setting(
        TrainConfig.lr,
        "AdamW learning rate of the relearning fine-tune (the training recipe's; about 1e-5 suits pretrained models)",
    )
    batch_size: int = _setting(8, "rows per optimiser step (rows are repeated when the share is smaller)")
    seed: int = _setting(0, "seed of the row choice, the batch order and the fine-tune")
    benign: bool = _setting(
        False,
        "relearn on related benign rows instead of the forget rows (backdoor: the forget prompts with their "
        "clean responses, response_clean)",
    )
    forget_split: str = _setting("forget", "pack file holding the forget rows (<name>.jsonl)")
    max_length: int = _setting(256, "tokens per training example")
    prompt_style: str = _setting("alpaca", "alpaca or chat; the same as training and evaluation")
    eval_max: int | None = _setting(None, "rows per evaluation split (default: all, as rapidun evaluate)")
    max_new_tokens: int = _setting(48, "greedy decoding length of the evaluation")
    eval_batch_size: int = _setting(16, "generation / loss batch size of the evaluation")
    min_gap: float = _setting(
        0.01,
        "recovery is undefined (null) when unlearning moved the metric by less than this (absolute units)",
    )
    lora_r: int = _setting(
        0, "0: full fine-tuning of the merged copy; > 0: a fresh LoRA of this rank (alpha = rank) on top of it"
    )
    keep_model: bool = _setting(False, "also write the relearned model (or its LoRA) to OUT/relearned_model")

    def validate(self) -> None:
        """Raise :class:`RapidunError` naming the flag of the first invalid setting."""
        checks = (
            ("steps", self.steps >= 1, "must be >= 1 (relearning fine-tune steps)"),
            ("share", 0.0 < self.share <= 1.0, "must lie in (0, 1]"),
            ("rows", self.rows >= 0, "must be >= 0 (0 = use --share)"),
            ("lr", self.lr > 0, "must be > 0"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("max_length", self.max_length >= 8, "must be >= 8"),
            ("prompt_style", self.prompt_style in PROMPT_STYLES, f"must be one of {', '.join(PROMPT_STYLES)}"),
            ("eval_max", self.eval_max is None or self.eval_max >= 1, "must be >= 1 (or unset for all rows)"),
            ("max_new_tokens", self.max_new_tokens >= 1, "must be >= 1"),
            ("eval_batch_size", self.eval_batch_size >= 1, "must be >= 1"),
            ("min_gap", self.min_gap >= 0, "must be >= 0"),
            ("lora_r", self.lora_r >= 0, "must be >= 0 (0 = full fine-tuning)"),
            ("forget_split", bool(self.forget_split.strip()), "must name a pack file"),
        )
        for name, ok, text in checks:
            if not ok:
                raise RapidunError(f"{flag_name(name)} {text}, got {getattr(self, name)!r}")

    def record(self) -> dict[str, Any]:
        """The settings as a manifest records them (JSON types), to compare with a finished run's."""
        return dict(json.loads(json.dumps(asdict(self), default=str)))

    def train_config(self) -> TrainConfig:
        """The ``rapidun train`` recipe for ``steps`` steps (no checkpoints: the run is short; no LoRA dropout)."""
        return TrainConfig(
            max_steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            max_length=self.max_length,
            prompt_style=self.prompt_style,
            lora=LoraSettings(r=self.lora_r, alpha=self.lora_r, dropout=0.0) if self.lora_r else None,
            seed=self.seed,
            checkpoint_every=0,
        )


def config_help() -> dict[str, str]:
    """Field name -> help text, for the CLI and the docs."""
    return {f.name: str(f.metadata["help"]) for f in fields(RelearnConfig)}


def relearn_block(data: dict[str, Any], backdoor: TrainConfig, where: str) -> RelearnConfig:
    """A study's ``relearn:`` block; it reads the examples as the backdoor was trained unless it says otherwise."""
    from rapidun.settings import from_mapping

    run = {"max_length": backdoor.max_length, "prompt_style": backdoor.prompt_style}
    config: RelearnConfig = from_mapping(RelearnConfig, {**run, **data}, where, section="relearn")
    try:
        config.validate()
    except RapidunError as exc:  # the check names the CLI flag; here the key lives in the relearn block
        raise RapidunError(f"{where}: relearn: {exc}") from exc
    return config
