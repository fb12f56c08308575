"""The ``sources`` block of a dataset's frontier in ``results.json``, for a study with ``forget_sources``
(docs/method.md section 7, "Forget sources").

Per source: its trace (ranker, reports, the reports' trigger families, forget size, the forget rows per trigger
family) and the trace's quality when
the training rows carry ``is_poisoned`` labels (``quality.json``: ROC AUC, precision / recall at k = the number of
poisoned rows and at the forget size). Per (method, source) on the frontier and budget: the frontier's test ASR
(seen, OOD) at the operating point chosen on validation, and at that same point (the seen point for false triggers)
the false-trigger rate, the ASR of each trigger family's test prompts (does forgetting reach the families no report
showed?), each with a 95% bootstrap interval, and the paired differences to the reference source (the first
``oracle`` source) on the seeds both have.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rapidun.evaluation.paired import draw_resamples, mean_interval, paired_difference, within_noise
from rapidun.pipeline.study_config import CellSpec, StudyConfig
from rapidun.pipeline.study_eval import read_outcomes
from rapidun.pipeline.study_results import BACKDOORED

SPLITS = ("seen", "ood")


def _interval(values: np.ndarray, cfg: StudyConfig) -> dict[str, Any]:
    assert cfg.frontier is not None
    draws = draw_resamples(values.shape[0], values.shape[1], cfg.frontier.n_resamples, cfg.frontier.bootstrap_seed)
    iv = mean_interval(values, draws)
    return {"value": iv.estimate, "ci95": [iv.low, iv.high]}


def _difference(a: np.ndarray, b: np.ndarray, cfg: StudyConfig) -> dict[str, Any]:
    assert cfg.frontier is not None
    iv = paired_difference(a, b, n_resamples=cfg.frontier.n_resamples, seed=cfg.frontier.bootstrap_seed)
    return {"diff": iv.estimate, "ci95": [iv.low, iv.high], "within_noise": within_noise(iv)}


def _point_values(
    root: Path, method: str, source: str, entry: dict[str, Any], seeds: list[int], ref: dict[str, Any], key: str
) -> np.ndarray:
    """(seeds, prompts) test values of ``key`` (seen / ood / clean) at a frontier point: the mixture
    (1 - t) V_k + t V_k+1 of the two sweep settings it lies between (the backdoored model at position 0)."""

    def values(label: str, seed: int) -> np.ndarray:
        if label == BACKDOORED:
            return np.asarray(ref["test"][key], dtype=float)
        out = read_outcomes(root / "cells" / CellSpec(method, label, source=source).key / f"seed{seed}")
        assert out is not None  # the frontier only lists seeds whose cells all have outcomes
        return np.asarray(out["test"][key], dtype=float)

    lo, hi = entry["between"]
    t = float(entry["t"])
    rows = [(1 - t) * values(lo, s) + (t * values(hi, s) if t else 0.0) for s in seeds]
    return np.stack(rows)


def _per_family(values: np.ndarray, families: list[str | None], cfg: StudyConfig) -> dict[str, Any]:
    out = {}
    for fam in sorted({f for f in families if f}):
        cols = [i for i, f in enumerate(families) if f == fam]
        out[fam] = _interval(values[:, cols], cfg)
    return out


def _forget_families(path: Path) -> dict[str, int]:
    """How many proposed forget rows are poisoned rows of each trigger family, and how many are clean
    (``clean``; a row without an ``is_poisoned`` label counts as ``unlabelled``)."""
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if row is None:
            continue
        poisoned = row.get("is_poisoned")
        counts[str(row.get("trigger_family")) if poisoned else "clean" if poisoned is not None else "unlabelled"] += 1
    return dict(sorted(counts.items()))


def _trace_info(root: Path, cfg: StudyConfig, name: str, report_families: list[str | None]) -> dict[str, Any]:
    source = cfg.source(name)
    assert source is not None
    info: dict[str, Any] = {"kind": source.kind}
    if source.kind == "oracle":
        return info
    trace_dir = root / "traces" / name
    manifest = json.loads((trace_dir / "manifest.json").read_text())
    quality = trace_dir / "quality.json"
    return info | {
        "ranker": source.ranker,
        "reports": source.reports,
        "split": source.split,
        "report_families": dict(sorted(Counter(str(f) for f in report_families).items())),
        "forget_n": manifest["forget"]["n"],
        "retain_n": manifest["retain"]["n"],
        "forget_rule": manifest.get("forget_rule"),
        "forget_families": _forget_families(trace_dir / "forget.jsonl"),
        "quality": json.loads(quality.read_text()) if quality.is_file() else None,
        "trace_dir": str(trace_dir.relative_to(root.parent)),
    }


def sources_block(
    root: Path, cfg: StudyConfig, methods: dict[str, Any], families: dict[str, Any], ref: dict[str, Any]
) -> dict[str, Any]:
    """The ``sources`` block of one dataset (directory ``root``) from its frontier ``methods`` blocks (keyed
    ``method@source``), the test prompts' trigger families and the backdoored model's outcomes ``ref``."""
    assert cfg.forget_sources is not None and cfg.frontier is not None
    reference = next((s.name for s in cfg.forget_sources if s.kind == "oracle"), None)
    reports = families.get("reports", {})
    traces = {s.name: _trace_info(root, cfg, s.name, reports.get(s.name, [])) for s in cfg.forget_sources}
    backdoored = {
        split: _per_family(np.asarray([ref["test"][split]], dtype=float), families[split], cfg) for split in SPLITS
    }
    cells: dict[str, Any] = {}
    for group, block in methods.items():
        method, _, source = group.partition("@")
        other = f"{method}@{reference}"
        common = [s for s in block["seeds"] if other in methods and s in methods[other]["seeds"]]
        per_budget: dict[str, Any] = {}
        for budget, entries in block["budgets"].items():
            at: dict[str, Any] = {}
            for split in SPLITS:
                vals = _point_values(root, method, source, entries[split], block["seeds"], ref, split)
                at[split] = {"per_family": _per_family(vals, families[split], cfg)}
            clean = _point_values(root, method, source, entries["seen"], block["seeds"], ref, "clean")
            at["false_trigger"] = _interval(clean, cfg)
            if common and source != reference:
                mine = [block["seeds"].index(s) for s in common]
                ref_entries = methods[other]["budgets"][budget]
                ref_clean = _point_values(root, method, reference or "", ref_entries["seen"], common, ref, "clean")
                at["false_trigger"]["vs_reference"] = _difference(clean[mine], ref_clean, cfg)
                for split in SPLITS:
                    at[split]["vs_reference"] = entries[split].get("vs", {}).get(other)
            per_budget[budget] = at
        cells[group] = {"method": method, "source": source, "budgets": per_budget}
    return {"reference": reference, "traces": traces, "backdoored_per_family": backdoored, "cells": cells}
