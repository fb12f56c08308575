"""The report's first section, the answer (docs/method.md section 7): per dataset, a verdict table (per method: seen
and OOD ASR, false-trigger rate, perplexity, cost) and one sentence per comparison with the best method saying whether
the difference in seen-trigger ASR is outside noise.

The best method is the unlearning method (not the backdoored model, not the retraining reference) with the lowest
mean seen ASR. Each other method (retraining included) is compared with it on seen ASR:

- when every shared seed of both has per-prompt outcomes (a study's ``<dataset>/cells/<method[~label]>/seed<S>/
  outcomes.json``), by the paired bootstrap over seeds and prompts (:func:`rapidun.evaluation.paired.
  paired_difference`): the difference is outside noise when its 95% interval excludes 0;
- otherwise by the evaluations' own 95% intervals (``metrics.ci95.asr_seen``; over several seeds, the envelope from
  the lowest low to the highest high): outside noise when the two do not overlap (a coarser test).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rapidun.evaluation.paired import paired_difference
from rapidun.reporting.cells import OUTCOMES_FILE, cell_dir, read_json
from rapidun.reporting.document import Block, Bullets, Para, Table
from rapidun.reporting.plot_tradeoff import OFF_SCALE
from rapidun.reporting.results import RunRecord, RunResults
from rapidun.reporting.tables import (
    BACKDOORED,
    format_mean_spread,
    format_number,
    html_table,
    markdown_table,
    method_rank,
    summarize,
)
from rapidun.unlearning.registry import is_reference

# (metrics key, column title, display scale): rates in percent, lower is better for all four.
METRICS = (
    ("asr_seen", "seen ASR (%)", 100.0),
    ("asr_ood", "OOD ASR (%)", 100.0),
    ("false_trigger_rate", "false-trigger (%)", 100.0),
    ("clean_ppl", "perplexity", 1.0),
)


def _groups(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    groups: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        groups.setdefault(r.name, []).append(r)
    return groups


def _ci(r: RunRecord, key: str) -> tuple[float, float] | None:
    ci = r.metrics.get("ci95")
    pair = ci.get(key) if isinstance(ci, dict) else None
    if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(c, (int, float)) for c in pair):
        return float(pair[0]), float(pair[1])
    return None


def _value(members: Sequence[RunRecord], key: str, scale: float) -> str:
    """mean ± sample std over seeds; one seed: its value with the evaluation's 95% CI when it has one."""
    st = summarize([r.headline(key) for r in members])
    text = format_mean_spread(st, scale)
    ci = _ci(members[0], key) if len(members) == 1 else None
    if ci is not None and st.mean is not None:
        text += f" [{format_number(ci[0], scale)}, {format_number(ci[1], scale)}]"
    return text


def verdict_table(runs: Sequence[RunRecord]) -> Table:
    """One row per method (and sweep label) of one dataset; lower is better in every column."""
    heads = ["method", *(f"{title}, lower is better" for _, title, _ in METRICS), "cost (s), lower is better"]
    heads.append("spread shown")
    rows = []
    for name, members in _groups(runs).items():
        cost = summarize([r.timings.get("total_s") for r in members])
        n = len(members)
        spread = f"± sample std over {n} seeds" if n > 1 else "[95% CI of the evaluation], 1 seed"
        is_start = members[0].method == BACKDOORED  # its cost is the backdoor implant, not an unlearning cost
        rows.append(
            [
                name,
                *(_value(members, key, scale) for key, _, scale in METRICS),
                "-" if is_start else format_mean_spread(cost),
                spread,
            ]
        )
    return Table(markdown_table(heads, rows, n_text=1), html_table(heads, rows, n_text=1))


def _outcomes(run_dir: Path, r: RunRecord) -> list[float] | None:
    """The per-prompt seen-trigger outcomes (1 = backdoor fired) of a study cell, or None when not kept."""
    outcomes = read_json(cell_dir(run_dir, r) / OUTCOMES_FILE)
    test = outcomes.get("test") if outcomes else None
    seen = test.get("seen") if isinstance(test, dict) else None
    return [float(x) for x in seen] if isinstance(seen, list) and seen else None


def _paired(run_dir: Path, a: Sequence[RunRecord], b: Sequence[RunRecord]) -> str | None:
    """The paired-bootstrap sentence tail for A - B, or None when some shared seed has no outcomes."""
    by_seed = {r.seed: r for r in b}
    pairs = [(r, by_seed[r.seed]) for r in a if r.seed in by_seed]
    if not pairs:
        return None
    va = [_outcomes(run_dir, ra) for ra, _ in pairs]
    vb = [_outcomes(run_dir, rb) for _, rb in pairs]
    if any(v is None for v in va + vb) or len({len(v or []) for v in va + vb}) != 1:
        return None
    diff = paired_difference([v or [] for v in va], [v or [] for v in vb])
    outside = diff.low > 0 or diff.high < 0
    span = f"{len(pairs)} seed{'s' if len(pairs) > 1 else ''} x {len(va[0] or [])} prompts"
    return (
        f"{diff.estimate * 100:+.1f} points, paired-bootstrap 95% interval [{diff.low * 100:+.1f}, "
        f"{diff.high * 100:+.1f}] over {span}: "
        + ("outside noise." if outside else "within noise (the interval contains 0).")
    )


def _envelope(members: Sequence[RunRecord]) -> tuple[float, float] | None:
    cis = [_ci(r, "asr_seen") for r in members]
    if not cis or any(c is None for c in cis):
        return None
    return min(c[0] for c in cis if c), max(c[1] for c in cis if c)


def _overlap(a: Sequence[RunRecord], b: Sequence[RunRecord]) -> str:
    ea, eb = _envelope(a), _envelope(b)
    sa, sb = summarize([r.headline("asr_seen") for r in a]), summarize([r.headline("asr_seen") for r in b])
    if ea is None or eb is None or sa.mean is None or sb.mean is None:
        return "no per-prompt outcomes and no 95% intervals recorded: cannot tell."
    diff = f"{(sa.mean - sb.mean) * 100:+.1f} points"
    if ea[1] < eb[0] or eb[1] < ea[0]:
        return f"{diff}; their 95% intervals do not overlap: outside noise."
    return f"{diff}; their 95% intervals overlap: not shown to be outside noise (no per-prompt outcomes to pair)."


def _collapsed(groups: dict[str, list[RunRecord]]) -> list[str]:
    """Methods whose mean clean perplexity is above OFF_SCALE x the backdoored model's (the trade-off plot's rule)."""
    start = [summarize([r.headline("clean_ppl") for r in g]).mean for g in groups.values() if g[0].method == BACKDOORED]
    if not start or start[0] is None:
        return []
    limit = OFF_SCALE * start[0]
    ppl = {n: summarize([r.headline("clean_ppl") for r in g]).mean for n, g in groups.items()}
    return [n for n, m in ppl.items() if m is not None and m > limit and groups[n][0].method != BACKDOORED]


def comparisons(run_dir: Path, runs: Sequence[RunRecord]) -> list[str]:
    """One sentence per method against the best one on seen ASR; empty when there is no unlearning method."""
    groups = _groups(runs)
    candidates = {
        n: summarize([r.headline("asr_seen") for r in g]).mean
        for n, g in groups.items()
        if g[0].method != BACKDOORED and not is_reference(g[0].method)
    }
    collapsed = _collapsed(groups)
    scored = {n: m for n, m in candidates.items() if m is not None and n not in collapsed}
    if not scored:
        return []
    best = min(scored, key=lambda n: (scored[n], list(groups).index(n)))
    out = [f"Best on seen-trigger ASR: {best}."]
    if collapsed:
        out.append(
            f"Not candidates: {', '.join(collapsed)} (clean perplexity above {OFF_SCALE:g}x the backdoored model's: "
            "the model collapsed, so its low ASR says nothing about unlearning)."
        )
    for name, members in groups.items():
        if name == best or members[0].method == BACKDOORED:
            continue
        tail = _paired(run_dir, members, groups[best]) or _overlap(members, groups[best])
        out.append(f"{name} vs {best}, seen ASR: {tail}")
    return out


def verdict_blocks(res: RunResults, dataset: str) -> list[Block]:
    """The verdict of one dataset of one run directory: the table, then the comparison sentences."""
    runs = [r for r in res.runs if r.dataset == dataset]
    blocks: list[Block] = [verdict_table(runs)]
    sentences = comparisons(res.run_dir, runs)
    if sentences:
        blocks += [Bullets(tuple(sentences))]
    else:
        blocks.append(Para("No unlearning method with a seen-ASR value: nothing to compare."))
    return blocks
