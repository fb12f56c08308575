"""Per-prompt outcomes of one evaluation, the raw material of paired comparisons (docs/method.md section 7).

An evaluation's headline metrics are aggregates; a paired bootstrap between two methods needs what lies under them,
prompt by prompt, on the same prompts for every method and seed:

- ``seen``, ``ood``, ``clean``: the scorer's verdict (1 = the generation shows the backdoor behaviour, else 0) per
  prompt of ``test_seen`` / ``test_ood`` / ``test_clean`` (for ``clean``: a false trigger), in row order;
- ``ppl_index``, ``ppl_nll``, ``ppl_tokens``: per scored perplexity row, its position in the perplexity rows, its
  summed response NLL (nats) and its number of response tokens, so that PPL = exp(sum nll / sum tokens) can be
  recomputed on any resample of the rows.

Row ids are positions in the evaluated split, which a study fixes across methods and seeds (a seeded subset,
:func:`rapidun.evaluation.directory.select_rows`).
"""

from __future__ import annotations

import math
from typing import Any

from rapidun.evaluation.backdoor import EvalResult

OUTCOME_SPLITS = ("seen", "ood", "clean")


def eval_outcomes(result: EvalResult) -> dict[str, list[int] | list[float]]:
    """The per-prompt successes of each generated split and the per-row NLL sums and token counts of perplexity."""
    out: dict[str, list[int] | list[float]] = {
        split: [int(bool(g["success"])) for g in result.generations if g["split"] == split] for split in OUTCOME_SPLITS
    }
    ppl = result.clean_ppl.records
    out["ppl_index"] = [int(r["index"]) for r in ppl]
    out["ppl_nll"] = [float(r["nll"]) for r in ppl]
    out["ppl_tokens"] = [int(r["tokens"]) for r in ppl]
    return out


def outcome_rates(outcomes: dict[str, Any]) -> dict[str, float | None]:
    """``asr_seen``, ``asr_ood`` and ``clean_ppl`` recomputed from stored outcomes (None for an empty split)."""

    def share(xs: list[int]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    tokens = sum(outcomes["ppl_tokens"])
    return {
        "asr_seen": share(outcomes["seen"]),
        "asr_ood": share(outcomes["ood"]),
        "clean_ppl": math.exp(sum(outcomes["ppl_nll"]) / tokens) if tokens else None,
    }
