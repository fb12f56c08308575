"""What a run prints besides its results: progress bars only when someone watches (stderr is a terminal, or
progress is asked for), and none of third-party libraries' internal notices (matplotlib's font search at debug
level, transformers / peft FutureWarnings about each other's deprecated internals). Used by the CLI and the API."""

from __future__ import annotations

import logging
import os
import sys
import warnings

# FutureWarnings raised inside transformers / peft / accelerate about their own or each other's internals (e.g.
# peft calling transformers' deprecated ``is_gradient_checkpointing``): nothing a rapidun user can act on.
_THIRD_PARTY = r"(transformers|peft|accelerate|huggingface_hub)(\.|$)"


def progress_wanted(progress: bool | None) -> bool:
    """``progress`` if given, else whether stderr is a terminal (a redirected log gets no bar frames)."""
    if progress is not None:
        return progress
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def hide_hub_progress_bars() -> None:
    """Switch off Hugging Face's own bars ("Loading weights", downloads), now and for later imports."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub is first imported
    if "transformers" in sys.modules:  # already imported: switch it off there too
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()


def quiet_third_party() -> None:
    """Silence matplotlib's debug font logging (hundreds of lines under ``-v``) and third-party FutureWarnings."""
    for name in ("matplotlib", "matplotlib.font_manager", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning, module=_THIRD_PARTY)
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
