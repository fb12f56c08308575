"""User-facing errors.

A :class:`RapidunError` is a problem with the user's input or environment that the user can fix. The CLI prints
its message as one line (``rapidun: error: ...``) and exits with code 2; it never shows a traceback. Messages name
the file, row or flag at fault and what to change. Internal invariants use ``assert`` instead.
"""

from __future__ import annotations


class RapidunError(Exception):
    """An error the user can fix; its message is one line naming the culprit and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
