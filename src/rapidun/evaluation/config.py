"""Settings of ``rapidun evaluate`` (docs/method.md section 6): decoding, batch, row caps and the keyword-threshold
calibration target, each default written once here."""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.errors import RapidunError
from rapidun.evaluation.calibration import DEFAULT_TARGET_FPR
from rapidun.settings import PROMPT_STYLES, setting

MAX_NEW_TOKENS = 48  # greedy decoding length of an evaluation generation
SUBSETS = ("seeded", "first")


@dataclass(frozen=True)
class EvaluateConfig:
    threshold: int | None = setting(
        None, "distinct keyword hits for success (none: calibrated on val, FPR <= --target-fpr)"
    )
    target_fpr: float = setting(
        DEFAULT_TARGET_FPR, "largest false-positive rate on val reference responses when calibrating"
    )
    max_new_tokens: int = setting(MAX_NEW_TOKENS, "greedy decoding length")
    batch_size: int = setting(16, "generation / perplexity batch size")
    max_eval: int | None = setting(None, "cap every split at N rows (none: all rows)")
    max_seen: int | None = setting(None, "cap the seen-trigger rows (overrides --max-eval)")
    max_ood: int | None = setting(None, "cap the OOD-trigger rows (overrides --max-eval)")
    max_clean: int | None = setting(None, "cap the clean rows (overrides --max-eval)")
    max_ppl: int | None = setting(None, "cap the perplexity rows (overrides --max-eval)")
    subset: str = setting(
        "seeded", "how capped splits pick rows: seeded random subset (file order kept) or the first N", choices=SUBSETS
    )
    seed: int = setting(0, "subset and bootstrap seed")
    prompt_style: str = setting("alpaca", "prompt template; the same as training", choices=PROMPT_STYLES)

    def validate(self) -> None:
        """Raise :class:`RapidunError` naming the flag for a setting that cannot work."""
        if self.max_new_tokens < 1:
            raise RapidunError(f"--max-new-tokens must be >= 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise RapidunError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.target_fpr < 1.0:
            raise RapidunError(f"--target-fpr must lie in [0, 1), got {self.target_fpr}")

    def limits(self) -> dict[str, int | None]:
        """Row cap of each split: its own flag, else --max-eval."""
        caps = {"seen": self.max_seen, "ood": self.max_ood, "clean": self.max_clean, "ppl": self.max_ppl}
        return {s: (v if v is not None else self.max_eval) for s, v in caps.items()}
