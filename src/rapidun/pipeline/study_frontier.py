"""The ``frontier`` block of a study's ``results.json`` (docs/method.md section 7, "Matched-perplexity frontier").

Per dataset and swept method: the sweep path (the backdoored model, then the method's cells weakest to strongest),
its points per seed, and per budget b and split (seen, ood) the operating point chosen on validation outcomes with
the test ASR there, its 95% bootstrap interval, and the paired difference to every other swept method (same seeds,
same prompts) with its interval and a ``within_noise`` flag (interval contains 0). Only seeds for which every cell
of the method has validation outcomes are used; anything left out is said in ``notes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rapidun.evaluation.frontier import mix, operating_point
from rapidun.evaluation.outcomes import outcome_rates
from rapidun.evaluation.paired import draw_resamples, mean_interval, paired_difference, within_noise
from rapidun.pipeline.study_config import CellSpec, StudyConfig
from rapidun.pipeline.study_eval import read_outcomes
from rapidun.pipeline.study_results import BACKDOORED

SPREAD = "95% percentile bootstrap over seeds and prompts (paired: same draws for both methods of a difference)"
SPLITS = ("seen", "ood")


def budget_key(budget: float) -> str:
    return f"{budget:g}"


def _ratio(out: dict[str, Any], ref: dict[str, Any]) -> float:
    return float(outcome_rates(out)["clean_ppl"] or np.nan) / float(outcome_rates(ref)["clean_ppl"] or np.nan)


def _sweep(root: Path, cells: list[CellSpec], seeds: list[int], ref: dict[str, Any], notes: list[str]) -> Any:
    """Outcomes of every (position, seed) of one method's path, restricted to the seeds every cell has."""
    found: dict[int, list[dict[str, Any]]] = {}
    for seed in seeds:
        outs = [read_outcomes(root / "cells" / c.key / f"seed{seed}") for c in cells]
        missing = [c.key for c, o in zip(cells, outs, strict=True) if o is None or o.get("val") is None]
        if missing:
            notes.append(f"{cells[0].method} seed {seed} left out: no validation outcomes for {', '.join(missing)}")
            continue
        found[seed] = [ref, *(o for o in outs if o is not None)]
    return found


def _arrays(found: dict[int, list[dict[str, Any]]], ref: dict[str, Any]) -> dict[str, np.ndarray]:
    """(positions, seeds[, prompts]) arrays: validation ratio and ASR, test ratio and per-prompt successes."""
    seeds = sorted(found)
    per = [found[s] for s in seeds]  # seeds x positions
    arr: dict[str, np.ndarray] = {
        "val_ratio": np.array([[_ratio(o["val"], ref["val"]) for o in row] for row in per]).T,
        "test_ratio": np.array([[_ratio(o["test"], ref["test"]) for o in row] for row in per]).T,
    }
    for split in SPLITS:
        arr[f"val_{split}"] = np.array([[np.mean(o["val"][split]) for o in row] for row in per]).T
        arr[f"test_{split}"] = np.array([[o["test"][split] for o in row] for row in per], dtype=float).swapaxes(0, 1)
    return arr


def _method_block(labels: list[str], seeds: list[int], arr: dict[str, np.ndarray], cfg: StudyConfig) -> Any:
    assert cfg.frontier is not None
    points = [
        {
            "label": labels[k],
            "seed": seed,
            "val_ratio": float(arr["val_ratio"][k, j]),
            "test_ratio": float(arr["test_ratio"][k, j]),
            **{f"{w}_asr_{s}": float(arr[f"{w}_{s}"][k, j].mean()) for w in ("val", "test") for s in SPLITS},
        }
        for k in range(len(labels))
        for j, seed in enumerate(seeds)
    ]
    budgets: dict[str, Any] = {}
    matrices: dict[tuple[str, str], np.ndarray] = {}
    for b in cfg.frontier.budgets:
        for split in SPLITS:
            test = arr[f"test_{split}"]
            point = operating_point(arr["val_ratio"].mean(axis=1), arr[f"val_{split}"].mean(axis=1), b)
            values = mix(test, point)  # (seeds, prompts)
            draws = draw_resamples(
                values.shape[0], values.shape[1], cfg.frontier.n_resamples, cfg.frontier.bootstrap_seed
            )
            iv = mean_interval(values, draws)
            matrices[(budget_key(b), split)] = values
            end = min(point.segment + 1, len(labels) - 1)
            budgets.setdefault(budget_key(b), {})[split] = {
                "asr": iv.estimate,
                "ci95": [iv.low, iv.high],
                "test_ratio": float(mix(arr["test_ratio"], point).mean()),
                "val_asr": point.asr,
                "val_ratio": point.ratio,
                "between": [labels[point.segment], labels[end]],
                "t": point.t,
                "budget_reached": point.budget_reached,
            }
    return {"labels": labels, "seeds": seeds, "points": points, "budgets": budgets}, matrices


def _differences(blocks: dict[str, Any], matrices: dict[str, Any], cfg: StudyConfig) -> None:
    """Fill ``vs`` of every (method, budget, split) with the paired difference to each other method."""
    assert cfg.frontier is not None
    for m, block in blocks.items():
        for other, oblock in blocks.items():
            if other == m:
                continue
            common = [s for s in block["seeds"] if s in oblock["seeds"]]
            if not common:
                continue
            mine = [block["seeds"].index(s) for s in common]
            theirs = [oblock["seeds"].index(s) for s in common]
            for key, value in matrices[m].items():
                a, b = value[mine], matrices[other][key][theirs]
                iv = paired_difference(a, b, n_resamples=cfg.frontier.n_resamples, seed=cfg.frontier.bootstrap_seed)
                entry = block["budgets"][key[0]][key[1]].setdefault("vs", {})
                entry[other] = {"diff": iv.estimate, "ci95": [iv.low, iv.high], "within_noise": within_noise(iv)}
                entry[other]["seeds"] = common


def dataset_frontier(root: Path, cfg: StudyConfig) -> dict[str, Any]:
    """The frontier of one dataset (directory ``root``), or a ``notes``-only block when it cannot be computed."""
    ref = read_outcomes(root / "cells" / BACKDOORED)
    if ref is None or ref.get("val") is None:
        return {
            "notes": [
                "no frontier: the backdoored model has no validation outcomes (the pack predates val_seen/val_ood, "
                "or validation is off); rebuild the pack with 'rapidun poison' to add them"
            ]
        }
    notes: list[str] = []
    blocks: dict[str, Any] = {}
    matrices: dict[str, Any] = {}
    groups: dict[str, list[CellSpec]] = {}
    for cell in cfg.frontier_cells():
        groups.setdefault(cell.method, []).append(cell)
    for method, cells in groups.items():
        found = _sweep(root, cells, list(cfg.seeds), ref, notes)
        if not found:
            notes.append(f"{method}: no seed has every sweep cell; not on the frontier")
            continue
        labels = [BACKDOORED, *(c.label for c in cells)]
        blocks[method], matrices[method] = _method_block(labels, sorted(found), _arrays(found, ref), cfg)
    _differences(blocks, matrices, cfg)
    return {"methods": blocks, "notes": notes}


def frontier_block(cfg: StudyConfig, out: Path) -> dict[str, Any] | None:
    """``results.json``'s ``frontier``: budgets, the spread the intervals show, and each dataset's frontier."""
    if cfg.frontier is None:
        return None
    return {
        "budgets": [budget_key(b) for b in cfg.frontier.budgets],
        "spread": SPREAD,
        "datasets": {d.name: dataset_frontier(out / d.name, cfg) for d in cfg.datasets},
    }
