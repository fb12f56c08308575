"""Forget weights by trigger family: does a method weight the rows of one trigger family above another's?

Per method that computed per-row forget weights (lowest seed): the mean, sample std and range of its forget weights
over the forget rows of each trigger family. Weights are read from ``<weights_dir>/forget_weights.jsonl`` (the
influence-guided methods, docs/method.md section 3) or from the unlearning ``run.json``'s
``weights.summary.forget_weights`` (loreun); row i is the pack's i-th forget row (``pack/forget.jsonl``, which
carries ``trigger_family``). Methods whose forget weights are all equal (uniform) are listed, not tabulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidun.reporting.cells import first_seed_runs, forget_families, read_unlearn_run
from rapidun.reporting.document import Block, Note, Para, Table
from rapidun.reporting.plot_weights import read_weights
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import html_table, markdown_table, summarize

FORGET_FILE = "forget_weights.jsonl"


def _numbers(values: Any) -> list[float] | None:
    if not isinstance(values, list) or not values:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]


def forget_weights(run_dir: Path, r: RunRecord) -> list[float] | None:
    """The per-row forget weights a run trained with, or None when it recorded none."""
    if r.weights_dir is not None and (r.weights_dir / FORGET_FILE).is_file():
        try:
            return read_weights(r.weights_dir / FORGET_FILE)
        except (OSError, ValueError):
            return None  # the weights histogram already reports a broken file
    run = read_unlearn_run(run_dir, r)
    weights = run.get("weights") if run else None
    summary = weights.get("summary") if isinstance(weights, dict) else None
    return _numbers(summary.get("forget_weights")) if isinstance(summary, dict) else None


def _cell(values: list[float]) -> str:
    st = summarize(values)
    if st.mean is None or st.lo is None or st.hi is None:
        return "n/a"
    spread = f" ± {st.std:.2f}" if st.std is not None else ""
    return f"{st.mean:.2f}{spread} [{st.lo:.2f}, {st.hi:.2f}]"


@dataclass(frozen=True)
class FamilyWeights:
    """The forget weights of one dataset's weighting methods split by the trigger family of each forget row."""

    families: tuple[str, ...]  # sorted; NO_FAMILY for a forget row without one
    counts: dict[str, int]  # forget rows per family
    by_method: dict[str, dict[str, list[float]]]  # "name (seed S)" -> family -> weights, for non-uniform methods
    overall: dict[str, list[float]]  # "name (seed S)" -> all its forget weights
    uniform: tuple[str, ...]  # methods whose forget weights are all equal
    mismatched: tuple[str, ...]  # methods whose weight count differs from the pack's forget rows
    pack_found: bool = True


def family_weights(run_dir: Path, dataset: str, runs: Sequence[RunRecord]) -> FamilyWeights:
    """Read every weighting method's forget weights (lowest seed) and the pack's families; see the module doc."""
    families = forget_families(run_dir, dataset)
    if families is None:
        return FamilyWeights((), {}, {}, {}, (), (), pack_found=False)
    order = tuple(sorted(set(families)))
    by_method: dict[str, dict[str, list[float]]] = {}
    overall: dict[str, list[float]] = {}
    uniform, mismatched = [], []
    for r in first_seed_runs(runs).values():
        weights = forget_weights(run_dir, r)
        if weights is None:
            continue
        if len(weights) != len(families):
            mismatched.append(f"{r.name} ({len(weights)} weights, {len(families)} forget rows)")
        elif max(weights) - min(weights) < 1e-9:
            uniform.append(r.name)
        else:
            name = f"{r.name} (seed {r.seed})"
            by_method[name] = {f: [w for w, g in zip(weights, families, strict=True) if g == f] for f in order}
            overall[name] = weights
    counts = {f: families.count(f) for f in order}
    return FamilyWeights(order, counts, by_method, overall, tuple(uniform), tuple(mismatched))


def weight_family_blocks(fw: FamilyWeights, dataset: str) -> list[Block]:
    """A table: one row per weighting method, one column per trigger family; or a note saying what is missing."""
    if not fw.pack_found:
        return [Note(f"forget weights by trigger family: no pack found at `{dataset}/pack/forget.jsonl`")]
    blocks: list[Block] = []
    if fw.by_method:
        n_rows = sum(fw.counts.values())
        heads = ["method", *(f"{f} ({fw.counts[f]} rows)" for f in fw.families), f"all ({n_rows} rows)"]
        rows = [
            [name, *(_cell(per[f]) for f in fw.families), _cell(fw.overall[name])] for name, per in fw.by_method.items()
        ]
        blocks += [
            Para(
                "Forget weights by trigger family: mean ± sample std [min, max] of each method's per-row forget "
                "weights over the forget rows of each family (lowest seed; weights are scaled to mean 1 over the "
                "forget set, so above 1 = weighted above the average row)."
            ),
            Table(markdown_table(heads, rows), html_table(heads, rows)),
        ]
    if fw.uniform:
        blocks.append(Para(f"Equal forget weights on every row (not tabulated): {', '.join(fw.uniform)}."))
    if fw.mismatched:
        blocks.append(Note(f"forget weights that do not match the pack's forget rows: {'; '.join(fw.mismatched)}"))
    if not blocks:
        blocks.append(Note("forget weights by trigger family: no method of this dataset recorded per-row weights"))
    return blocks
