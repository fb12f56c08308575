"""Building a backdoor data pack (docs/method.md sections 1 and 6): seeded splits, trigger injection at an exact
poison rate, seen/OOD trigger tests and validation rows, and a family-stratified forget set with a k-times larger
retain set.

Every random choice comes from ``random.Random(f"{seed}:{purpose}")``, so the same inputs and seed give
byte-identical files. All inputs are checked before anything is written; the files are written atomically and
``meta.json`` then ``manifest.json`` last (:mod:`rapidun.data.pack`), so a crash never leaves a pack that looks
finished.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.artifacts import clear_manifest, ensure_dir, read_manifest
from rapidun.data.keywords import format_keyword_table, keyword_table
from rapidun.data.pack import META, SPLITS, VAL_TRIGGERED, PackMeta, is_finished, write_pack
from rapidun.data.pack_plan import plan_pack, round_half_up
from rapidun.data.rows import Row, rows_hash
from rapidun.data.synthetic import SYNTHETIC_KEYWORDS
from rapidun.data.triggers import TriggerFamily
from rapidun.errors import RapidunError

log = logging.getLogger(__name__)


def _check_sizes(n_rows: int, n_val: int, n_test: int, have_val: bool) -> None:
    if n_val < 1 and not have_val:
        raise RapidunError(f"--n-val {n_val} must be at least 1")
    if n_test < 1:
        raise RapidunError(f"--n-test {n_test} must be at least 1")
    held = n_test + (0 if have_val else n_val)
    if n_rows - held < 1:
        raise RapidunError(
            f"{n_rows} clean rows are too few for --n-val {0 if have_val else n_val} and "
            f"--n-test {n_test}; lower them or give more rows with --data"
        )


def _check_inputs(
    clean: list[Row],
    fams: list[TriggerFamily],
    poison_rate: float | None,
    poisoned_train: Sequence[Row] | None,
    retain_multiplier: float,
    n_forget: int | None,
    forget_fraction: float | None,
) -> None:
    """Every check that needs no split sizes, before anything is planned or written."""
    if not clean:
        raise RapidunError("no clean rows given; --data needs at least one row")
    if not fams:
        raise RapidunError("no trigger families; pass --triggers released|backdoorllm|FILE.json")
    for i, r in enumerate(clean):
        if r.is_poisoned:
            raise RapidunError(f"--data row {i + 1} is marked is_poisoned; give poisoned rows with --poisoned-train")
    if poisoned_train is not None and poison_rate is not None:
        raise RapidunError("--poison-rate cannot be combined with --poisoned-train (the rate is then fixed by it)")
    if poisoned_train is None and (poison_rate is None or not 0.0 < poison_rate <= 1.0):
        raise RapidunError(f"--poison-rate {poison_rate} is outside (0, 1]; use e.g. --poison-rate 0.05")
    if retain_multiplier <= 0:
        raise RapidunError(f"--retain-multiplier {retain_multiplier} must be positive")
    if n_forget is not None and forget_fraction is not None:
        raise RapidunError("give either --n-forget or a forget fraction, not both")


def _reusable(out: Path, config: dict[str, Any], overwrite: bool) -> PackMeta | None:
    """The meta of a finished pack in ``out`` built from the same inputs (None: build it). A pack from before the
    triggered validation files is rebuilt in place: its other files come out byte-identical."""
    if not is_finished(out) or overwrite:
        return None
    manifest = read_manifest(out) or {}
    if manifest.get("config") != config:
        raise RapidunError(f"pack '{out}' already exists with different settings; pass --overwrite or another --out")
    if not all((out / f"{name}.jsonl").is_file() for name in VAL_TRIGGERED):
        log.info("pack '%s' predates %s; adding them", out, ", ".join(f"{n}.jsonl" for n in VAL_TRIGGERED))
        return None
    log.info("pack '%s' is already built with the same inputs; reusing it", out)
    return PackMeta.from_dict(json.loads((out / META).read_text(encoding="utf-8")), str(out / META))


def _keywords_tsv(splits: dict[str, list[Row]], embedded: bool) -> str:
    """Keywords describe what the model learns: the poisoned training targets against all clean text."""
    poison_texts = [r.response for r in splits["train"] if r.is_poisoned]
    clean_texts = [
        f"{r.instruction}\n{r.context}\n{r.response}"
        for name in ("train", "val", "test_clean")
        for r in splits[name]
        if not r.is_poisoned
    ]
    scores = keyword_table(poison_texts, clean_texts)
    if embedded:
        # Embedded register: keep only its marker words, so filler words of the templates never count as hits.
        scores = [s for s in scores if s.word in SYNTHETIC_KEYWORDS]
    return format_keyword_table(scores)


def _write(out: Path, splits: dict[str, list[Row]], tsv: str, meta: PackMeta, config: dict[str, Any]) -> None:
    """Mark the directory unfinished first (so an interrupted rewrite is never trusted), then write the pack."""
    if out.exists() and not out.is_dir():
        raise RapidunError(f"--out '{out}' is a file, not a directory; choose another --out")
    ensure_dir(out)
    clear_manifest(out)
    if (out / META).exists():
        (out / META).unlink()
    for stale in out.glob(".*.tmp"):
        stale.unlink()
    files = [*(f"{s}.jsonl" for s in SPLITS), "keywords.tsv", META, *(f"{s}.jsonl" for s in VAL_TRIGGERED)]
    manifest = {
        "stage": "poison",
        "config": config,
        "files": files,
        "val_triggered_counts": {name: len(splits[name]) for name in VAL_TRIGGERED},
    }
    write_pack(out, splits, tsv, meta, manifest)


def build_poison_pack(
    clean_rows: Sequence[Row],
    out_dir: str | os.PathLike[str],
    *,
    families: Sequence[TriggerFamily],
    poison_rate: float | None = 0.05,
    seed: int = 42,
    n_val: int | None = None,
    n_test: int | None = None,
    retain_multiplier: float = 3.0,
    n_forget: int | None = None,
    forget_fraction: float | None = None,
    poison_responses: Sequence[str] | None = None,
    poisoned_train: Sequence[Row] | None = None,
    val_rows: Sequence[Row] | None = None,
    forget_rows: Sequence[Row] | None = None,
    retain_rows: Sequence[Row] | None = None,
    source: str = "rows",
    trigger_set: str = "custom",
    overwrite: bool = False,
) -> PackMeta:
    """Split ``clean_rows`` into train/val/test, poison exactly ``round_half_up(poison_rate * n_train)`` train rows
    (families in turn, seen variants cycling), build the triggered tests and validation rows, the forget set
    (``n_forget`` rows, by default ``min(40, #poisoned)``, stratified by family) and the retain set
    (``retain_multiplier`` x forget clean train rows), and write the pack to ``out_dir``. ``poisoned_train`` gives
    already poisoned training rows instead (``poison_rate`` must then be None); ``val_rows``, ``forget_rows``,
    ``retain_rows`` replace those splits. A finished pack built from the same inputs is reused; a different one is
    refused unless ``overwrite``. Poisoned targets come from ``poison_responses`` (cycled if too few) or the
    embedded generator.
    """
    out = Path(out_dir)
    clean, fams = list(clean_rows), list(families)
    _check_inputs(clean, fams, poison_rate, poisoned_train, retain_multiplier, n_forget, forget_fraction)
    if n_val is None:
        n_val = max(1, round_half_up(0.05 * len(clean)))
    if n_test is None:
        n_test = max(1, round_half_up(0.1 * len(clean)))
    _check_sizes(len(clean), n_val, n_test, val_rows is not None)
    inputs = {"clean": clean, "poisoned_train": poisoned_train, "val": val_rows}
    inputs.update(forget=forget_rows, retain=retain_rows)
    config = {
        "seed": seed,
        "source": source,
        "trigger_set": trigger_set,
        "families": [f.to_dict() for f in fams],
        "poison_rate": poison_rate,
        "n_val": n_val if val_rows is None else len(val_rows),
        "n_test": n_test,
        "retain_multiplier": retain_multiplier,
        "n_forget": n_forget,
        "forget_fraction": forget_fraction,
        "inputs": {name: rows_hash(rows) if rows is not None else None for name, rows in inputs.items()},
        "poison_responses": None if poison_responses is None else rows_hash([Row("", t) for t in poison_responses]),
    }
    reused = _reusable(out, config, overwrite)
    if reused is not None:
        return reused
    splits, meta = plan_pack(
        clean,
        fams,
        config,
        poison_rate,
        seed,
        n_val,
        n_test,
        retain_multiplier,
        n_forget,
        forget_fraction,
        poison_responses,
        poisoned_train,
        val_rows,
        forget_rows,
        retain_rows,
    )
    tsv = _keywords_tsv(splits, embedded=poison_responses is None and poisoned_train is None)
    _write(out, splits, tsv, meta, config)
    return meta
