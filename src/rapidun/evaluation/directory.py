"""Evaluate a model on a pack directory (``rapidun poison`` output) and write ``generations.jsonl``, ``metrics.json``
and ``manifest.json`` (in that order, each atomically; the manifest marks the directory finished).

Reads ``test_seen.jsonl``, ``test_ood.jsonl``, ``test_clean.jsonl`` (required), ``val.jsonl`` (keyword threshold
calibration), ``forget.jsonl`` or ``train.jsonl`` (poisoned responses, for the scorer's recall) and ``keywords.tsv``
(default keyword list). Row limits are deterministic: ``first`` takes the first N rows of a file; ``seeded`` takes a
seeded random subset of N rows kept in file order (the default: test files are often grouped by trigger family).
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rapidun.artifacts import (
    atomic_write_json,
    atomic_write_jsonl,
    clear_manifest,
    ensure_dir,
    read_manifest,
    write_manifest,
)
from rapidun.costs import CostLedger
from rapidun.data.rows import Row, load_rows, rows_hash
from rapidun.errors import RapidunError
from rapidun.evaluation.backdoor import evaluate_backdoor
from rapidun.evaluation.calibration import DEFAULT_TARGET_FPR
from rapidun.evaluation.config import MAX_NEW_TOKENS
from rapidun.evaluation.pack_scorer import build_dir_scorer, optional_rows
from rapidun.evaluation.protocol import Scorer
from rapidun.evaluation.trigger_check import is_unlearn_output, record_check
from rapidun.modeling.device import resolve_device
from rapidun.modeling.precision import ModelSettings

log = logging.getLogger(__name__)

TEST_FILES = {"seen": "test_seen.jsonl", "ood": "test_ood.jsonl", "clean": "test_clean.jsonl"}
SUBSET_MODES = ("seeded", "first")


def select_rows(rows: Sequence[Row], limit: int | None, mode: str = "seeded", seed: int = 0) -> list[Row]:
    """At most ``limit`` rows, deterministically: the first ``limit`` or a seeded subset kept in file order."""
    if mode not in SUBSET_MODES:
        raise RapidunError(f"unknown subset mode '{mode}'; choose one of {', '.join(SUBSET_MODES)}")
    if limit is None or limit >= len(rows):
        return list(rows)
    if limit < 1:
        raise RapidunError(f"row limit must be >= 1, got {limit}; fix --max-eval or the per-split limit")
    if mode == "first":
        return list(rows[:limit])
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def trained_max_length(model_spec: str, adapter: str | None) -> int | None:
    """The ``max_length`` a model made by ``rapidun train`` was trained at, read from the training manifest of the
    adapter directory or else the model directory; None for any other model (then only its positions cap)."""
    for spec in (adapter, model_spec):
        if spec and Path(spec).is_dir():
            manifest = read_manifest(spec) or {}
            value = (manifest.get("config") or {}).get("max_length")
            if manifest.get("kind") == "train" and isinstance(value, int) and value > 0:
                return value
    return None


def _check_pack(data: Path) -> None:
    if not data.is_dir():
        raise RapidunError(f"--data '{data}' is not a directory; pass the --out directory of 'rapidun poison'")
    missing = [name for name in TEST_FILES.values() if not (data / name).is_file()]
    if missing:
        raise RapidunError(f"--data '{data}' lacks {', '.join(missing)}; pass a pack made by 'rapidun poison'")


def _test_rows(
    data: Path, caps: dict[str, int | None], subset: str, seed: int
) -> tuple[dict[str, list[Row]], list[Row], dict[str, int]]:
    """The capped rows of each test split, the perplexity rows, and how many rows each split file holds."""
    full = {split: load_rows(data / name) for split, name in TEST_FILES.items()}
    for split in ("seen", "ood"):
        if not any(r.trigger_family for r in full[split]):
            log.warning(
                "%s: no row has 'trigger_family'; per-family results will be under 'none'", data / TEST_FILES[split]
            )
    rows = {split: select_rows(full[split], caps[split], subset, seed) for split in TEST_FILES}
    ppl_rows = select_rows(full["clean"], caps["ppl"], subset, seed)
    return rows, ppl_rows, {split: len(r) for split, r in full.items()}


def _reused_metrics(out: Path, config: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The metrics of a finished evaluation in ``out`` with the same settings (None: evaluate)."""
    done = read_manifest(out)
    if done is None or overwrite:
        return None
    if done.get("config") == config and (out / "metrics.json").is_file():
        log.info("%s: evaluation already finished with these settings; reusing it (--overwrite to redo)", out)
        return dict(json.loads((out / "metrics.json").read_text(encoding="utf-8")))
    raise RapidunError(f"--out '{out}' holds an evaluation with other settings; pass --overwrite or another --out")


def _write_outputs(
    out: Path, result: Any, metrics: dict[str, Any], config: dict[str, Any], hashes: dict[str, str]
) -> None:
    """``generations.jsonl``, ``metrics.json`` (with the backdoor check), then ``manifest.json`` (marks the
    directory finished)."""
    adapter = metrics.get("adapter")
    what = f"--model {metrics.get('model')}" + (f" --adapter {adapter}" if adapter else "")
    record_check(metrics, what, unlearned=is_unlearn_output(metrics.get("model"), adapter))
    atomic_write_jsonl(out / "generations.jsonl", result.generations)
    atomic_write_json(out / "metrics.json", metrics)
    write_manifest(
        out,
        {
            "stage": "evaluate",
            "config": config,
            "files": ["generations.jsonl", "metrics.json"],
            "rows_hash": hashes,
            "seconds": result.seconds,
        },
    )


def _evaluate_model(
    model_spec: str,
    adapter: str | None,
    data: Path,
    rows: dict[str, list[Row]],
    ppl_rows: list[Row],
    scorer: Scorer,
    *,
    trust_remote_code: bool,
    device: str,
    seed: int,
    weights: ModelSettings,
    **settings: Any,
) -> Any:
    """Load the model (timed; ``weights``: its dtype / 4-bit loading) and run :func:`evaluate_backdoor` on the rows
    (timed); ``settings`` are its decoding and length settings. The result's ``extra`` holds both timings
    (``cost``) and the weight type the model ran in (``dtype``)."""
    from rapidun.modeling.load import load_model

    corpus_file = data / "train.jsonl" if (data / "train.jsonl").is_file() else data / TEST_FILES["clean"]
    corpus = [f"{r.instruction} {r.context} {r.response}" for r in optional_rows(corpus_file)]
    ledger = CostLedger()
    with ledger.stage("load_model"):
        loaded = load_model(
            model_spec,
            corpus=corpus,
            adapter=adapter,
            trust_remote_code=trust_remote_code,
            device=resolve_device(device),
            seed=seed,
            dtype=weights.dtype,
            load_in_4bit=weights.load_in_4bit,
        )
    with ledger.stage("evaluate"):
        result = evaluate_backdoor(
            loaded.model,
            loaded.tokenizer,
            test_seen=rows["seen"],
            test_ood=rows["ood"],
            test_clean=rows["clean"],
            ppl_rows=ppl_rows,
            scorer=scorer,
            seed=seed,
            **settings,
        )
    result.extra["cost"] = ledger.to_dict()
    result.extra["dtype"] = str(next(loaded.model.parameters()).dtype).removeprefix("torch.")
    return result


def _non_default(weights: ModelSettings | None) -> dict[str, Any]:
    """The model settings that differ from the defaults: only those enter the reuse settings, so evaluations
    finished before ``--model-dtype`` existed stay reusable."""
    default = ModelSettings()
    return {k: v for k, v in asdict(weights or default).items() if v != getattr(default, k)}


def evaluate_dir(
    model_spec: str,
    data_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    adapter: str | None = None,
    keywords_file: str | os.PathLike[str] | None = None,
    target_regex: str | None = None,
    threshold: int | None = None,
    target_fpr: float = DEFAULT_TARGET_FPR,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
    prompt_style: str = "alpaca",
    max_length: int | None = None,
    max_eval: int | None = None,
    limits: dict[str, int | None] | None = None,
    subset: str = "seeded",
    seed: int = 0,
    trust_remote_code: bool = False,
    device: str = "auto",
    model_settings: ModelSettings | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``model_spec`` (+ ``adapter``, loaded with ``model_settings``: --model-dtype, --load-in-4bit) on the
    pack in ``data_dir``; returns the ``metrics.json`` dict. ``limits`` maps ``seen``/``ood``/``clean``/``ppl`` to a
    row cap (default ``max_eval``). ``max_length`` caps prompts and perplexity rows at the training length (default:
    :func:`trained_max_length`, recorded in ``metrics.json``). A finished ``out_dir`` with the same settings is
    reused unless ``overwrite``."""
    data, out = Path(data_dir), Path(out_dir)
    _check_pack(data)
    caps = {split: (limits or {}).get(split, max_eval) for split in ("seen", "ood", "clean", "ppl")}
    max_length = max_length if max_length is not None else trained_max_length(model_spec, adapter)
    config = {
        "model": model_spec,
        "adapter": adapter,
        "data": str(data.resolve()),
        "keywords_file": str(keywords_file) if keywords_file else None,
        "target_regex": target_regex,
        "threshold": threshold,
        "target_fpr": target_fpr,
        "max_new_tokens": max_new_tokens,
        "prompt_style": prompt_style,
        "max_length": max_length,
        "limits": caps,
        "subset": subset,
        "seed": seed,
        **_non_default(model_settings),
    }
    reused = _reused_metrics(out, config, overwrite)
    if reused is not None:
        return reused
    ensure_dir(out)
    clear_manifest(out)
    rows, ppl_rows, available = _test_rows(data, caps, subset, seed)
    scorer, scorer_record = build_dir_scorer(data, keywords_file, target_regex, threshold, target_fpr)
    result = _evaluate_model(
        model_spec,
        adapter,
        data,
        rows,
        ppl_rows,
        scorer,
        trust_remote_code=trust_remote_code,
        device=device,
        seed=seed,
        weights=model_settings or ModelSettings(),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        prompt_style=prompt_style,
        max_length=max_length,
        progress=progress,
    )
    result.scorer, result.extra["data"] = scorer_record, str(data)
    result.extra["subset"] = {"mode": subset, "seed": seed, "limits": caps, "available": available}
    metrics = result.metrics(model=model_spec, adapter=adapter)
    hashes = {**{s: rows_hash(r) for s, r in rows.items()}, "ppl": rows_hash(ppl_rows)}
    _write_outputs(out, result, metrics, config, hashes)
    return metrics
