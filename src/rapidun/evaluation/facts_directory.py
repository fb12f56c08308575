"""Evaluate a model on a facts pack directory (``rapidun facts`` output) and write ``generations.jsonl``,
``metrics.json`` and ``manifest.json`` (in that order, each atomically; the manifest marks the directory finished).

Forget quality and PrivLeak need the retrained model (trained on ``retain.jsonl`` only): evaluate it first, then
pass its output directory (or its ``metrics.json``) as ``reference``.
"""

from __future__ import annotations

import json
import logging
import os
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
from rapidun.data.facts import FactsPack, load_facts_pack
from rapidun.data.rows import load_rows
from rapidun.errors import RapidunError
from rapidun.evaluation.facts import MIA_ATTACKS, FactsEvalConfig, run_facts_eval
from rapidun.modeling.device import resolve_device
from rapidun.modeling.load import LoadedModel

log = logging.getLogger(__name__)


def read_reference(reference: str | os.PathLike[str], pack: FactsPack) -> tuple[list[float], dict[str, float]]:
    """The retrained model's forget-set truth ratios and MIA AUCs from its facts ``metrics.json`` (or the
    directory holding it); it must be an evaluation on the same forget split."""
    path = Path(reference)
    path = path / "metrics.json" if path.is_dir() else path
    fix = "pass the --out directory of 'rapidun evaluate' run on the retrained model with this facts pack"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RapidunError(f"--reference '{reference}': cannot read {path.name} ({exc}); {fix}") from exc
    if not isinstance(data, dict) or data.get("task") != "facts":
        raise RapidunError(f"--reference '{reference}' is not a facts evaluation; {fix}")
    if data.get("forget_split") != pack.forget_split:
        raise RapidunError(
            f"--reference '{reference}' was evaluated on {data.get('forget_split')}, this pack forgets "
            f"{pack.forget_split}; {fix}"
        )
    ratios = data.get("forget", {}).get("truth_ratios")
    if not isinstance(ratios, list) or not ratios:
        raise RapidunError(f"--reference '{reference}' has no forget truth_ratios; {fix}")
    aucs = {a: float(data["mia"][a]["auc"]) for a in MIA_ATTACKS if a in data.get("mia", {})}
    return [float(r) for r in ratios], aucs


def evaluate_facts_dir(
    model: str | LoadedModel,
    pack_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    adapter: str | None = None,
    reference: str | os.PathLike[str] | None = None,
    config: FactsEvalConfig | None = None,
    device: str = "auto",
    trust_remote_code: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Evaluate ``model`` (a model spec for :func:`rapidun.modeling.load.load_model`, with ``adapter``, or an
    already loaded model) on the facts pack in ``pack_dir``; returns the ``metrics.json`` dict. A finished
    ``out_dir`` with the same settings is reused unless ``overwrite``."""
    from rapidun.modeling.load import load_model

    cfg = config or FactsEvalConfig()
    pack = load_facts_pack(pack_dir)  # bad input fails here, before any model is loaded
    ref_ratios, ref_auc = read_reference(reference, pack) if reference is not None else (None, None)
    out = Path(out_dir)
    settings = {
        "model": model if isinstance(model, str) else f"loaded:{model.source}",
        "adapter": adapter,
        "data": str(pack.directory.resolve()),
        "reference": str(reference) if reference is not None else None,
        **{k: v for k, v in asdict(cfg).items() if k != "progress"},
    }
    done = read_manifest(out)
    if done is not None and not overwrite:
        if done.get("config") == settings and (out / "metrics.json").is_file():
            log.info("%s: facts evaluation already finished with these settings; reusing it", out)
            return dict(json.loads((out / "metrics.json").read_text(encoding="utf-8")))
        raise RapidunError(f"--out '{out}' holds an evaluation with other settings; pass --overwrite or another --out")
    ensure_dir(out)
    clear_manifest(out)
    ledger = CostLedger()
    if isinstance(model, str):
        corpus = [f"{r.instruction} {r.context} {r.response}" for r in load_rows(pack.directory / "train.jsonl")]
        with ledger.stage("load_model"):
            loaded = load_model(
                model,
                corpus=corpus,
                adapter=adapter,
                trust_remote_code=trust_remote_code,
                device=resolve_device(device),
            )
    else:
        loaded = model
    with ledger.stage("evaluate"):
        metrics, records = run_facts_eval(
            loaded.model,
            loaded.tokenizer,
            pack,
            reference_truth_ratios=ref_ratios,
            reference_auc=ref_auc,
            config=cfg,
        )
    metrics.update({"model": settings["model"], "adapter": adapter, "data": str(pack.directory)})
    metrics["cost"] = ledger.to_dict()
    atomic_write_jsonl(out / "generations.jsonl", records)
    atomic_write_json(out / "metrics.json", metrics)
    write_manifest(
        out, {"stage": "evaluate", "task": "facts", "config": settings, "files": ["generations.jsonl", "metrics.json"]}
    )
    return metrics
