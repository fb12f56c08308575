"""What the flat API (:mod:`rapidun.api`) returns: one small dataclass per stage, holding the output directory,
the paths a next stage reads and the stage's numbers. Every field is also on disk in the stage's directory
(``run.json``, ``metrics.json``, ``weights.json``, ``manifest.json``), so a result can be rebuilt from its path."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PackResult:
    """A backdoor data pack (``rapidun poison``): split files by name and their row counts."""

    out_dir: Path
    files: dict[str, Path]  # "train", "val", "test_clean", "test_seen", "test_ood", "forget", "retain", "keywords"
    counts: dict[str, int]
    meta: dict[str, Any]

    @property
    def forget(self) -> Path:
        return self.files["forget"]

    @property
    def retain(self) -> Path:
        return self.files["retain"]


@dataclass
class TrainResult:
    """A trained model (or LoRA adapter, ``lora=True``) saved in ``out_dir``; ``run`` is its ``run.json``."""

    out_dir: Path
    steps: int
    final_loss: float
    seconds: float
    run: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    """Backdoor metrics of one model (``metrics.json``): ASR on seen / OOD triggers, false-trigger rate on clean
    prompts and clean perplexity, each with counts and 95% intervals in ``metrics``."""

    out_dir: Path
    metrics: dict[str, Any]

    @property
    def asr_seen(self) -> float:
        return float(self.metrics["asr_seen"])

    @property
    def asr_ood(self) -> float:
        return float(self.metrics["asr_ood"])

    @property
    def false_trigger_rate(self) -> float:
        return float(self.metrics["false_trigger_rate"])

    @property
    def clean_ppl(self) -> float:
        return float(self.metrics["clean_ppl"])

    @property
    def generations(self) -> Path:
        return self.out_dir / "generations.jsonl"


@dataclass
class InfluenceResult:
    """Influence scores FF, FR, RF, RR (``scores.safetensors``, shapes ``(n_query, n_train)``) in ``out_dir``."""

    out_dir: Path
    shapes: dict[str, tuple[int, int]]
    seconds: float
    manifest: dict[str, Any]

    @property
    def scores(self) -> Path:
        return self.out_dir / "scores.safetensors"


@dataclass
class WeightsResult:
    """Per-row forget / retain weights (``forget_weights.jsonl``, ``retain_weights.jsonl``) and their summary."""

    out_dir: Path
    summary: dict[str, Any]
    reused: bool

    @property
    def forget_weights(self) -> Path:
        return self.out_dir / "forget_weights.jsonl"

    @property
    def retain_weights(self) -> Path:
        return self.out_dir / "retain_weights.jsonl"


@dataclass
class UnlearnResult:
    """An unlearning run: the adapter (or edited model) in ``out_dir``, ``run`` its ``run.json``; ``model`` the
    unlearned model in memory (None when a finished run was reused)."""

    out_dir: Path
    method: str
    run: dict[str, Any]
    reused: bool
    model: Any = None

    @property
    def final_loss(self) -> float | None:
        value = self.run.get("final_loss")
        return None if value is None else float(value)


@dataclass
class StudyResult:
    """A study directory: ``results.json`` / ``results.csv`` (one record per run) and ``report.html``."""

    out_dir: Path
    runs: list[dict[str, Any]]
    report_html: Path | None
