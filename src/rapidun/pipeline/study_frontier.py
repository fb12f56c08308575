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
from rapidun.evaluation.paired import (
    PplParts,
    draw_resamples,
    mean_interval,
    paired_difference,
    paired_ppl_ratio_difference,
    ppl_ratio_interval,
    within_noise,
)
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
            notes.append(f"{cells[0].group} seed {seed} left out: no validation outcomes for {', '.join(missing)}")
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
    for key in (*SPLITS, "ppl_nll", "ppl_tokens"):
        arr[f"test_{key}"] = np.array([[o["test"][key] for o in row] for row in per], dtype=float).swapaxes(0, 1)
    return arr


def _ppl_parts(arr: dict[str, np.ndarray], weights: np.ndarray, seeds: list[int] | slice) -> PplParts:
    """(weight, nll, tokens) of the sweep positions a point mixes, restricted to the given seed indices."""
    nll, tokens = arr["test_ppl_nll"], arr["test_ppl_tokens"]
    return [(float(w), nll[k][seeds], tokens[k][seeds]) for k, w in enumerate(weights) if w]


def _method_block(
    labels: list[str], seeds: list[int], arr: dict[str, np.ndarray], ref_ppl: tuple[Any, Any], cfg: StudyConfig
) -> Any:
    assert cfg.frontier is not None
    n_res, boot_seed = cfg.frontier.n_resamples, cfg.frontier.bootstrap_seed
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
    matrices: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for b in cfg.frontier.budgets:
        for split in SPLITS:
            test = arr[f"test_{split}"]
            val_asr = arr[f"val_{split}"].mean(axis=1)
            point = operating_point(arr["val_ratio"].mean(axis=1), val_asr, b)
            values = mix(test, point)  # (seeds, prompts)
            iv = mean_interval(values, draw_resamples(values.shape[0], values.shape[1], n_res, boot_seed))
            weights = point.weights(len(labels))
            matrices[(budget_key(b), split)] = (values, weights)
            ppl = ppl_ratio_interval(_ppl_parts(arr, weights, slice(None)), ref_ppl, n_resamples=n_res, seed=boot_seed)
            end = min(point.segment + 1, len(labels) - 1)
            budgets.setdefault(budget_key(b), {})[split] = {
                "asr": iv.estimate,
                "ci95": [iv.low, iv.high],
                "test_ratio": ppl.estimate,
                "test_ratio_ci95": [ppl.low, ppl.high],
                "val_asr": point.asr,
                "val_ratio": point.ratio,
                "between": [labels[point.segment], labels[end]],
                "t": point.t,
                # validation ASR lost between the two settings the point mixes: a large drop is a cliff the sweep
                # steps over, where a setting between them might do better than their mixture
                "val_asr_drop": float(val_asr[point.segment] - val_asr[end]) if point.t > 0 else 0.0,
                "budget_reached": point.budget_reached,
            }
    return {"labels": labels, "seeds": seeds, "points": points, "budgets": budgets}, matrices


def _differences(
    blocks: dict[str, Any], matrices: dict[str, Any], arrays: dict[str, Any], ref_ppl: Any, cfg: StudyConfig
) -> None:
    """Fill ``vs`` of every (method, budget, split) with the paired differences of test ASR and of test PPL ratio
    to each other method, on the seeds both have."""
    assert cfg.frontier is not None
    n_res, boot_seed = cfg.frontier.n_resamples, cfg.frontier.bootstrap_seed
    for m, block in blocks.items():
        for other, oblock in blocks.items():
            if other == m:
                continue
            common = [s for s in block["seeds"] if s in oblock["seeds"]]
            if not common:
                continue
            mine = [block["seeds"].index(s) for s in common]
            theirs = [oblock["seeds"].index(s) for s in common]
            for key, (values, weights) in matrices[m].items():
                other_values, other_weights = matrices[other][key]
                iv = paired_difference(values[mine], other_values[theirs], n_resamples=n_res, seed=boot_seed)
                ppl = paired_ppl_ratio_difference(
                    _ppl_parts(arrays[m], weights, mine),
                    _ppl_parts(arrays[other], other_weights, theirs),
                    ref_ppl,
                    n_resamples=n_res,
                    seed=boot_seed,
                )
                block["budgets"][key[0]][key[1]].setdefault("vs", {})[other] = {
                    "diff": iv.estimate,
                    "ci95": [iv.low, iv.high],
                    "within_noise": within_noise(iv),
                    "test_ratio_diff": ppl.estimate,
                    "test_ratio_ci95": [ppl.low, ppl.high],
                    "seeds": common,
                }


def dataset_frontier(root: Path, cfg: StudyConfig, families: dict[str, Any] | None = None) -> dict[str, Any]:
    """The frontier of one dataset (directory ``root``), or a ``notes``-only block when it cannot be computed.
    With ``forget_sources`` the paths are per method and source (``method@source``) and a ``sources`` block
    (:mod:`rapidun.pipeline.study_sources`) is added; ``families``: the test prompts' trigger families it reads."""
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
    arrays: dict[str, Any] = {}
    ref_ppl = (np.asarray(ref["test"]["ppl_nll"], dtype=float), np.asarray(ref["test"]["ppl_tokens"], dtype=float))
    groups: dict[str, list[CellSpec]] = {}
    for cell in cfg.frontier_cells():
        groups.setdefault(cell.group, []).append(cell)
    for method, cells in groups.items():
        found = _sweep(root, cells, list(cfg.seeds), ref, notes)
        if not found:
            notes.append(f"{method}: no seed has every sweep cell; not on the frontier")
            continue
        labels = [BACKDOORED, *(c.label for c in cells)]
        arrays[method] = _arrays(found, ref)
        blocks[method], matrices[method] = _method_block(labels, sorted(found), arrays[method], ref_ppl, cfg)
    _differences(blocks, matrices, arrays, ref_ppl, cfg)
    if cfg.forget_sources and families is not None:
        from rapidun.pipeline.study_sources import sources_block

        return {"methods": blocks, "notes": notes, "sources": sources_block(root, cfg, blocks, families, ref)}
    return {"methods": blocks, "notes": notes}


def frontier_block(cfg: StudyConfig, out: Path, families: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``results.json``'s ``frontier``: budgets, the spread the intervals show, and each dataset's frontier."""
    if cfg.frontier is None:
        return None
    return {
        "budgets": [budget_key(b) for b in cfg.frontier.budgets],
        "spread": SPREAD,
        "datasets": {d.name: dataset_frontier(out / d.name, cfg, (families or {}).get(d.name)) for d in cfg.datasets},
    }
