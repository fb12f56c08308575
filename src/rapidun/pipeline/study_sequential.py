"""The sequential-requests column of a study (issue 15 item 4; docs/method.md section 6): after a cell is evaluated,
its forget rows are served again as ``k`` successive deletion requests (disjoint, seeded subsets), each on the
merged result of the previous one, and once as one combined request, with the cell's method, parameters and
unlearning recipe (:mod:`rapidun.pipeline.sequential`). After every request the model is evaluated as the cell is
(same test prompts, decoding and length cap), so the record shows what each request leaves and what k requests
cost against one.

The cell records ``sequential`` = ``{"composition", "requests": [{"index", "rows", "cost_s", "cumulative_cost_s",
"metrics"}], "combined": {"cost_s", "metrics"} | None}`` (metrics: ASR seen / OOD, false-trigger rate, clean
perplexity). The runs live in ``cell_dir/sequential`` and are reused when finished with the same settings.
Retraining serves one combined request by definition and gets no column. Only studies whose config has a
``sequential`` block do any of this, so the cell records of other studies keep exactly their keys.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.data.facts import TASK as FACTS_TASK
from rapidun.data.rows import Row
from rapidun.errors import RapidunError
from rapidun.pipeline.datasets import DatasetState, dataset_task, load_backdoored
from rapidun.pipeline.sequential import SequentialConfig, serve_requests
from rapidun.pipeline.study_config import StudyConfig
from rapidun.pipeline.study_eval import test_metrics
from rapidun.unlearning.registry import is_reference

log = logging.getLogger(__name__)
SEQUENTIAL_DIR = "sequential"
METRICS = ("asr_seen", "asr_ood", "false_trigger_rate", "clean_ppl")


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """The part of ``sequential.json`` a cell record keeps: per request its size, costs and headline metrics."""

    def metrics(m: dict[str, Any]) -> dict[str, Any]:
        return {k: m.get(k) for k in METRICS}

    combined = record.get("combined")
    return {
        "composition": record["composition"],
        "start": metrics(record["start"]),
        "requests": [
            {
                "index": r["index"],
                "rows": len(r["forget_indices"]),
                "cost_s": r["cost_s"],
                "cumulative_cost_s": r["cumulative_cost_s"],
                "metrics": metrics(r["metrics"]),
            }
            for r in record["requests"]
        ],
        "combined": None
        if combined is None
        else {"cost_s": combined["cost_s"], "metrics": metrics(combined["metrics"])},
    }


def check_sequential(cfg: StudyConfig) -> None:
    """Refuse, before any work, a ``sequential`` block on a study with a facts dataset (requests are measured with
    the backdoor metrics only so far)."""
    if cfg.sequential is not None and any(dataset_task(spec) == FACTS_TASK for spec in cfg.datasets):
        raise RapidunError(
            "study config: sequential requests are measured on backdoor datasets only so far; drop the sequential "
            "block or the facts dataset"
        )


def sequential_fields(
    seq: SequentialConfig | None,
    state: DatasetState,
    cfg: StudyConfig,
    method: str,
    params: Any,
    train: Any,
    tokenizer: Any,
    rows: tuple[Sequence[Row], Sequence[Row]],
    cell_dir: Path,
    progress: bool,
) -> dict[str, Any]:
    """``{"sequential": summary}`` of one cell, or ``{}`` when the study has no ``sequential`` block or the cell is
    the retraining reference. ``train`` is the cell's resolved :class:`~rapidun.unlearning.UnlearnConfig`,
    ``tokenizer`` the backdoored model's and ``rows`` the cell's (forget, retain) rows."""
    if seq is None or is_reference(method):
        return {}

    def start_model() -> Any:  # a fresh copy of the backdoored model per chain: requests edit it in place
        return load_backdoored(state).model

    record = serve_requests(
        start_model,
        tokenizer,
        list(rows[0]),
        list(rows[1]),
        cell_dir / SEQUENTIAL_DIR,
        seq,
        method=method,
        evaluate=lambda model: test_metrics(model, tokenizer, state, cfg, progress),
        params=params,
        train=train,
        progress=progress,
    )
    summary = _summary(record)
    last = summary["requests"][-1]["metrics"]["asr_seen"]
    log.info("%s: %d sequential requests leave seen ASR %s", cell_dir, len(summary["requests"]), last)
    return {"sequential": summary}
