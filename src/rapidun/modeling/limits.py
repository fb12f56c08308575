"""The context length a model was built for, and the check that ``--max-length`` stays within it."""

from __future__ import annotations

from typing import Any

from rapidun.errors import RapidunError


def context_length(model: Any) -> int | None:
    """``max_position_embeddings`` of the model's config (also through a PEFT wrapper), or None if unknown."""
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def check_max_length(model: Any, max_length: int, flag: str = "--max-length") -> None:
    """Refuse sequences longer than the positions the model has: past them RoPE models silently extrapolate and
    learned-position models crash. Rows longer than ``max_length`` are truncated (response kept), not refused."""
    limit = context_length(model)
    if limit is not None and max_length > limit:
        raise RapidunError(
            f"{flag} {max_length} exceeds the model's context length {limit} (max_position_embeddings); "
            f"pass {flag} {limit} or less (longer rows are truncated, keeping the response)"
        )
