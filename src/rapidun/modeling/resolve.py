"""What a ``--model`` string names (a size name, a local model directory or a hub id), decided before any weights
load or any hub request is retried: a PEFT adapter directory, a missing local path and a size-name typo each get
one line naming the fix instead of a minute of network retries."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from rapidun.errors import RapidunError
from rapidun.modeling.factory import SIZES

HUB_PROBE_TIMEOUT_S = 15.0


def _sizes() -> str:
    return ", ".join(SIZES)


def _looks_like_path(spec: str) -> bool:
    """Starts like a path, has more than two components, or its first component exists here (``runs/x``)."""
    if spec.startswith((".", "/", "~")) or spec.endswith(("/", os.sep)):
        return True
    parts = spec.replace(os.sep, "/").split("/")
    return len(parts) > 2 or (len(parts) == 2 and Path(parts[0]).is_dir())


def check_adapter_dir(adapter: str) -> None:
    """An ``--adapter`` must be a PEFT adapter directory (``adapter_config.json``)."""
    if not (Path(adapter).expanduser() / "adapter_config.json").is_file():
        raise RapidunError(
            f"adapter '{adapter}' is not a PEFT adapter directory (no adapter_config.json); "
            "pass the --out directory of 'rapidun unlearn' or 'rapidun train --lora'"
        )


def _check_directory(spec: str, path: Path) -> None:
    if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        trained_on = f" (it was trained on '{base}')" if base else ""
        raise RapidunError(
            f"'{spec}' is a PEFT adapter: pass it as --adapter, with its base model as --model{trained_on}"
        )
    if not (path / "config.json").is_file():
        raise RapidunError(
            f"model directory '{spec}' has no config.json; pass a saved model directory (the --out of "
            f"'rapidun train'), a hub id, or a size name ({_sizes()})"
        )


def _probe_hub(spec: str) -> bool:
    """True when the hub id must be read from the local cache only (the hub is unreachable but the files are
    cached); raises when the id is neither reachable nor cached. One request with a short timeout, no retries."""
    from huggingface_hub import model_info, try_to_load_from_cache
    from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError

    cached = isinstance(try_to_load_from_cache(spec, "config.json"), str)
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if offline:
        if not cached:
            raise RapidunError(
                f"hub id '{spec}' is not in the local cache and HF_HUB_OFFLINE is set; download it first"
            )
        return True
    try:
        model_info(spec, timeout=HUB_PROBE_TIMEOUT_S)
    except GatedRepoError as exc:
        raise RapidunError(f"hub model '{spec}' is gated; accept its licence on the hub and log in") from exc
    except RepositoryNotFoundError as exc:
        raise RapidunError(
            f"no model '{spec}' on the hub and no local directory of that name; check the spelling, "
            f"or give a local model directory or a size name ({_sizes()})"
        ) from exc
    except Exception as exc:  # noqa: BLE001  any network failure: one line, no retries
        if cached:
            return True
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise RapidunError(
            f"cannot reach the Hugging Face hub for '{spec}' ({reason}); if it is a local directory, check the "
            f"path; otherwise connect, or download it first; sizes: {_sizes()}"
        ) from exc
    return False


def resolve_model_spec(spec: str, *, probe_hub: bool = True) -> tuple[str, bool]:
    """``(kind, local_only)``: kind is ``size``, ``directory`` or ``hub``; ``local_only`` says a hub id must be
    read from the cache. Raises :class:`RapidunError` for an adapter directory, a directory without a model, a
    missing path, a size-name typo, or a hub id that is neither on the hub nor cached."""
    if spec in SIZES:
        return "size", False
    path = Path(spec).expanduser()
    if path.is_dir():
        _check_directory(spec, path)
        return "directory", False
    if path.exists():
        raise RapidunError(f"model path '{spec}' is a file, not a model directory; pass its directory")
    close = difflib.get_close_matches(spec.lower(), list(SIZES), n=1, cutoff=0.6)
    if close and "/" not in spec:
        raise RapidunError(f"unknown model '{spec}': did you mean the size name '{close[0]}'? (sizes: {_sizes()})")
    if _looks_like_path(spec):
        raise RapidunError(
            f"model path '{spec}' does not exist or is not a directory; give a hub id, a local model directory, "
            f"or a size name ({_sizes()})"
        )
    return "hub", _probe_hub(spec) if probe_hub else False
