"""Settings of the influence stage (docs/method.md section 2): one typed home for every ``rapidun influence`` flag,
the ``influence:`` block of a study and the ``influence`` parameters of the influence-weighted methods."""

from __future__ import annotations

from dataclasses import dataclass

from rapidun.errors import RapidunError
from rapidun.influence.contrastive import LOSSES
from rapidun.influence.hooks import PARAM_CHOICES
from rapidun.influence.projection import DEFAULT_DIM
from rapidun.influence.projector_registry import DEFAULT_PROJECTOR, PROJECTORS
from rapidun.settings import MAX_LENGTH, PROMPT_STYLES, setting

DTYPES = ("fp16", "fp32", "int8")


@dataclass(frozen=True)
class InfluenceConfig:
    """How gradients are tracked, compressed, cached and scored. Checked by :meth:`validate` before any model work
    (``rapidun influence``, a study's ``influence:`` block, the ``influence`` parameters of rapidun/self_only)."""

    projector: str = setting(DEFAULT_PROJECTOR, "gradient compression", choices=tuple(PROJECTORS))
    dim: int | None = setting(None, f"projected dimension K; none = {DEFAULT_DIM} (exact keeps every weight)")
    params: str = setting(
        "lora-targets",
        "tracked parameters: LoRA target layers, all linear layers, or the adapter's",
        choices=PARAM_CHOICES,
    )
    layer_norm: bool = setting(True, "L2-normalise each layer's gradient")
    batch_size: int = setting(8, "rows per gradient batch")
    max_length: int = setting(MAX_LENGTH, "tokens per example (prompt + response)")
    seed: int = setting(0, "projector seed")
    dtype: str = setting("fp16", "gradient cache storage type", choices=DTYPES)
    per_token: bool = setting(False, "also write each query token's influence")
    hotwords: tuple[str, ...] | None = setting(None, "comma-separated words: restrict query losses to them")
    prompt_style: str = setting("alpaca", "prompt template; the same as training", choices=PROMPT_STYLES)
    rapidin_json: bool = setting(True, "write RapidIn-format JSON exports")
    top_k: int | None = setting(None, "also write topk.safetensors: the exact top-k train rows per query")
    loss: str = setting(
        "ce",
        "per-row loss whose gradient is scored: ce, or trigger_contrastive = CE(y | triggered) - CE(y | clean prompt)",
        choices=LOSSES,
    )

    def validate(self) -> None:
        """Raise :class:`RapidunError` naming the flag for a setting that cannot work (before any model work)."""
        checks = [
            (self.projector in PROJECTORS, f"--projector must be one of {', '.join(PROJECTORS)}"),
            (self.dim is None or self.dim >= 1, f"--dim must be a positive integer, got {self.dim}"),
            (self.params in PARAM_CHOICES, f"--params must be one of {', '.join(PARAM_CHOICES)}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.max_length >= 2, f"--max-length must be >= 2, got {self.max_length}"),
            (self.dtype in DTYPES, f"--dtype must be one of {', '.join(DTYPES)}"),
            (self.prompt_style in PROMPT_STYLES, f"--prompt-style must be one of {', '.join(PROMPT_STYLES)}"),
            (self.top_k is None or self.top_k >= 1, f"--top-k must be >= 1, got {self.top_k}"),
            (self.loss in LOSSES, f"--loss must be one of {', '.join(LOSSES)}"),
            (
                self.loss == "ce" or not (self.hotwords or self.per_token),
                f"--loss {self.loss} cannot be combined with --hotwords or --per-token; drop one",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise RapidunError(message)
