"""The recovery of a relearned model (docs/method.md section 6) and the metric dicts it is computed from.

    recovery = (m_relearned - m_unlearned) / (m_before - m_unlearned)

0 = relearning brought nothing back, 1 = back to the model before unlearning; values outside [0, 1] are kept. When
unlearning moved m by less than ``min_gap`` the ratio is noise over ~0: recovery is None with a reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.data.rows import Row
from rapidun.errors import RapidunError
from rapidun.pipeline.relearn_tasks import RelearnTask

log = logging.getLogger(__name__)


def recovery(
    before: float | None, unlearned: float | None, relearned: float | None, min_gap: float = 0.01
) -> tuple[float | None, str | None]:
    """(recovery, None), or (None, reason) when a value is missing or ``|before - unlearned| < min_gap``."""
    if before is None or unlearned is None or relearned is None:
        return None, "a metric is missing (empty split, or not in the metrics given)"
    gap = before - unlearned
    if abs(gap) < min_gap or gap == 0:
        return None, f"unlearning moved the metric by {gap:.4g} (|gap| < min_gap {min_gap}): nothing to recover"
    return (relearned - unlearned) / gap, None


def main_values(metrics: dict[str, Any], task: RelearnTask) -> dict[str, Any]:
    """The task's recovery metrics (and the row counts) out of a metrics dict; absent ones are None."""
    out: dict[str, Any] = {k: metrics.get(k) for k in task.recovery_metrics}
    if "counts" in metrics:
        out["counts"] = metrics["counts"]
    return out


def read_metrics_file(path: str | Path, task: RelearnTask, flag: str) -> dict[str, Any]:
    """A ``metrics.json`` of ``rapidun evaluate`` (or any JSON object holding the task's main metric)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RapidunError(f"{flag} '{p}' is not a readable JSON file ({exc}); pass a metrics.json") from exc
    if not isinstance(data, dict) or task.main_metric not in data:
        raise RapidunError(f"{flag} '{p}' has no '{task.main_metric}'; pass the metrics.json of 'rapidun evaluate'")
    return data


def warn_row_mismatch(before: dict[str, Any], relearned: dict[str, Any]) -> None:
    """Passed-in metrics measured on other rows than ours compare less well (noise, not bias): say so."""
    if "counts" in before and before["counts"] != relearned.get("counts"):
        log.warning(
            "the metrics before unlearning were measured on %s rows, the relearned model on %s; pass --eval-max "
            "matching the rapidun evaluate run for like-for-like numbers",
            before["counts"],
            relearned.get("counts"),
        )


def heldout_recovery(
    metrics: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
    eval_rows: Sequence[Row],
    trained: Sequence[Row],
    min_gap: float = 0.01,
) -> dict[str, Any] | None:
    """Forget accuracy before unlearning, after it and after relearning on the evaluation rows the relearning did not
    train on (a row is trained on when a relearning row has its instruction and response), and its recovery; None
    when a metrics dict has no per-row ``forget_correct`` for these rows (e.g. a metrics.json passed in) or every
    evaluation row was trained on. Relearning a row it trains on says little; this is the recovery of the rest."""
    seen = {(r.instruction, r.response) for r in trained}
    keep = [i for i, r in enumerate(eval_rows) if (r.instruction, r.response) not in seen]
    per_row = [m.get("forget_correct") for m in metrics]
    if not keep or any(not isinstance(v, list) or len(v) != len(eval_rows) for v in per_row):
        return None
    b, u, r = (sum(float(v[i]) for i in keep) / len(keep) for v in per_row if isinstance(v, list))
    value, reason = recovery(b, u, r, min_gap)
    return {"n": len(keep), "before": b, "unlearned": u, "relearned": r, "recovery": value, "reason": reason}
