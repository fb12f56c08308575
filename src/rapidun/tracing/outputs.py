"""What a trace writes, and reading it back (docs/method.md section 2).

In ``out_dir`` (every file written atomically; ``manifest.json`` last, so a directory without it is unfinished):

- ``ranking.jsonl``: every training row, best first: ``{"rank", "index", "score", "row"}`` (index = position in
  the training file, score = the aggregated score).
- ``forget.jsonl`` / ``retain.jsonl``: the proposed forget rows (top of the ranking) and retain rows (bottom,
  lowest score first), as plain row files that ``--forget`` / ``--retain`` accept.
- ``reports.jsonl``: the reports as scored (``generated`` true where the response is the model's greedy output).
- ``scores.safetensors``: ``scores`` (n_reports, n_train) float32, the per-pair scores before aggregation.
- ``quality.json`` (only when every training row has an ``is_poisoned`` label): ROC AUC, precision and recall
  at k = the number of poisoned rows and at the forget size (:mod:`rapidun.tracing.quality`), and ``pr_at_k.png``
  beside it: precision@k and recall@k for every k up to 3x the number of poisoned rows (:mod:`rapidun.tracing.pr_plot`).
- ``timings.json``, ``manifest.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.artifacts import atomic_write_jsonl, read_manifest
from rapidun.data.rows import Row, load_rows, rows_hash, write_rows
from rapidun.errors import RapidunError

FILES = ("ranking.jsonl", "forget.jsonl", "retain.jsonl", "reports.jsonl", "scores.safetensors", "timings.json")
OPTIONAL_FILES = ("per_token.safetensors", "per_token.jsonl", "quality.json", "pr_at_k.png")


@dataclass
class TraceResult:
    out_dir: Path
    scores: np.ndarray  # (n_reports, n_train) per-pair scores
    aggregated: np.ndarray  # (n_train,) one score per training row
    forget: list[int]  # training-row indices proposed to forget, best first
    retain: list[int]  # training-row indices proposed to retain, lowest score first
    manifest: dict[str, Any]


def write_sets(
    out: Path,
    train_rows: Sequence[Row],
    report_rows: Sequence[Row],
    generated: Sequence[bool],
    scores: np.ndarray,
    aggregated: np.ndarray,
    order: np.ndarray,
    forget: np.ndarray,
    retain: np.ndarray,
) -> dict[str, Any]:
    """Write every output but timings and the manifest; return what the manifest records about them."""
    from safetensors.numpy import save_file

    atomic_write_jsonl(
        out / "ranking.jsonl",
        (
            {"rank": r, "index": int(i), "score": float(aggregated[i]), "row": train_rows[i].to_dict()}
            for r, i in enumerate(order)
        ),
    )
    forget_rows = [train_rows[i] for i in forget]
    retain_rows = [train_rows[i] for i in retain]
    write_rows(out / "forget.jsonl", forget_rows)
    write_rows(out / "retain.jsonl", retain_rows)
    atomic_write_jsonl(
        out / "reports.jsonl", ({**r.to_dict(), "generated": g} for r, g in zip(report_rows, generated, strict=True))
    )
    tmp = out / ".scores.safetensors.tmp"
    save_file({"scores": np.ascontiguousarray(scores, dtype=np.float32)}, str(tmp))
    os.replace(tmp, out / "scores.safetensors")
    return {
        "forget": {"n": len(forget_rows), "indices": [int(i) for i in forget], "data": rows_hash(forget_rows)},
        "retain": {"n": len(retain_rows), "indices": [int(i) for i in retain], "data": rows_hash(retain_rows)},
        "files": list(FILES),
    }


def load_result(out_dir: str | os.PathLike[str]) -> TraceResult:
    """A finished trace directory (refused without its manifest)."""
    from safetensors.numpy import load_file

    out = Path(out_dir)
    manifest = _finished(out)
    scores = load_file(str(out / "scores.safetensors"))["scores"]
    aggregated = np.zeros(manifest["train"]["n"], dtype=np.float64)
    for line in (out / "ranking.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        aggregated[rec["index"]] = rec["score"]
    return TraceResult(out, scores, aggregated, manifest["forget"]["indices"], manifest["retain"]["indices"], manifest)


def _finished(out: Path) -> dict[str, Any]:
    manifest = read_manifest(out)
    if manifest is None or manifest.get("stage") != "trace":
        raise RapidunError(
            f"'{out}' is not a finished trace (no trace manifest.json); run 'rapidun trace --out {out}' first"
        )
    return manifest


def load_traced_sets(out_dir: str | os.PathLike[str]) -> tuple[list[Row], list[Row]]:
    """The forget and retain rows a finished trace proposed, checked against its manifest (for
    ``rapidun unlearn --forget-from DIR``)."""
    out = Path(out_dir)
    manifest = _finished(out)
    sets = []
    for name in ("forget", "retain"):
        path = out / f"{name}.jsonl"
        rows = load_rows(path, allow_empty=True) if path.is_file() else None
        want = manifest.get(name, {})
        if rows is None or len(rows) != want.get("n") or rows_hash(rows) != want.get("data"):
            raise RapidunError(
                f"'{path}' is missing or was changed after the trace finished; run 'rapidun trace' again "
                "(with --overwrite) or pass --forget/--retain files instead"
            )
        sets.append(rows)
    if not sets[0]:
        raise RapidunError(f"trace '{out}' proposed no forget rows; run 'rapidun trace' with --k")
    return sets[0], sets[1]
