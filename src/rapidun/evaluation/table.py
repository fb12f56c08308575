"""A plain-text table of a ``metrics.json`` dict, for the CLI and logs."""

from __future__ import annotations

from typing import Any


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ci(ci: list[float] | tuple[float, float] | None, digits: int = 3) -> str:
    return "-" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def format_metrics_table(metrics: dict[str, Any]) -> str:
    """Headline rows (ASR seen/OOD, false-trigger rate, clean PPL) with n and 95% interval, then ASR per family."""
    counts = metrics.get("counts", {})
    ci = metrics.get("ci95", {})
    ppl = metrics.get("clean_ppl")
    lines = [
        f"{'metric':<20} {'value':>9} {'n':>7}  95% interval",
        f"{'ASR seen':<20} {_rate(metrics.get('asr_seen')):>9} {counts.get('seen', 0):>7}  {_ci(ci.get('asr_seen'))}",
        f"{'ASR OOD':<20} {_rate(metrics.get('asr_ood')):>9} {counts.get('ood', 0):>7}  {_ci(ci.get('asr_ood'))}",
        f"{'false-trigger rate':<20} {_rate(metrics.get('false_trigger_rate')):>9} {counts.get('clean', 0):>7}  "
        f"{_ci(ci.get('false_trigger_rate'))}",
        f"{'clean PPL':<20} {'-' if ppl is None else f'{ppl:.3f}':>9} {counts.get('ppl_rows', 0):>7}  "
        f"{_ci(ci.get('clean_ppl'), 2)}  ({counts.get('ppl_tokens', 0)} tokens)",
    ]
    families = metrics.get("per_family", {})
    if families:
        lines += ["", f"{'family':<20} {'ASR seen':>9} {'n':>7} {'ASR OOD':>9} {'n':>7}"]
        for fam, cells in families.items():
            s, o = cells.get("seen", {}), cells.get("ood", {})
            lines.append(
                f"{fam:<20} {_rate(s.get('asr')):>9} {s.get('n', 0):>7} {_rate(o.get('asr')):>9} {o.get('n', 0):>7}"
            )
    scorer = metrics.get("scorer", {})
    if scorer:
        desc = f"scorer: {scorer.get('name')}"
        if scorer.get("threshold") is not None:
            desc += f", threshold {scorer['threshold']}"
        if scorer.get("val_fpr") is not None:
            desc += f", val FPR {scorer['val_fpr']:.3f}"
        if scorer.get("positive_recall") is not None:
            desc += f", recall on poisoned responses {scorer['positive_recall']:.3f}"
        lines += ["", desc]
    if "max_new_tokens" in metrics:
        lines.append(
            f"greedy, max_new_tokens={metrics['max_new_tokens']}, prompt={metrics.get('prompt_style')}, "
            f"{metrics.get('seconds', 0):.1f}s"
        )
    return "\n".join(lines)
