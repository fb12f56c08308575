"""ASR per trigger variant: one panel per method (mean over seeds), one bar per variant, coloured by split.

Reads ``metrics.per_variant`` (``{"family::variant": {"split", "asr", ...}}``); the per-family numbers are the
report's per-family table. Every bar is labelled with its value in percent, and a zero is drawn as a short thick
line at 0 (a bar of height zero would vanish). Two colours only: seen variants and OOD variants (never seen in
training). Error bars are the sample std over seeds (when >= 2 seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from rapidun.reporting.figure_style import PlotResult, Style, figure, glyph_label, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import method_rank, summarize

SPLIT_COLORS = {"seen": "#0072B2", "ood": "#E69F00"}
SPLIT_TITLES = {"seen": "seen variant", "ood": "OOD variant (never seen in training)"}
MAX_PANELS = 16


def _asr(entry: Any) -> float | None:
    if isinstance(entry, dict):
        v = entry.get("asr")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


def _collect(runs: Sequence[RunRecord]) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    """(group name -> variant key -> ASR values over seeds, variant key -> split) in report order."""
    values: dict[str, dict[str, list[float]]] = {}
    variant_split: dict[str, str] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        variants = r.metrics.get("per_variant")
        if not isinstance(variants, dict):
            continue
        per = values.setdefault(r.name, {})
        for key, entry in variants.items():
            v = _asr(entry)
            if v is not None:
                per.setdefault(key, []).append(v)
                variant_split.setdefault(key, "ood" if str(entry.get("split", "")).lower() == "ood" else "seen")
    return {k: v for k, v in values.items() if v}, variant_split


def _panel(ax: Axes, name: str, cats: list[str], per: dict[str, list[float]], split: dict[str, str]) -> None:
    """One method's bars with their value labels; a zero is a short thick line so it stays visible."""
    for j, cat in enumerate(cats):
        stat = summarize(per.get(cat, []))
        if stat.mean is None:
            ax.text(j, 2, "n/a", ha="center", va="bottom", fontsize=7, color="#555555")
            continue
        color = SPLIT_COLORS[split.get(cat, "seen")]
        value = 100 * stat.mean
        err = 100 * stat.std if stat.std else None
        ax.bar(j, value, width=0.7, color=color, yerr=err, error_kw={"elinewidth": 0.8, "capsize": 1.5})
        if value < 0.5:
            ax.plot([j - 0.35, j + 0.35], [0, 0], color=color, linewidth=3, solid_capstyle="butt")
        ax.text(j, value + (err or 0) + 2, f"{value:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(-4, 122)
    ax.set_yticks([0, 50, 100])
    ax.set_title(name, loc="left", fontsize=9, fontweight="bold", pad=2)
    ax.grid(axis="x", visible=False)


def asr_by_trigger(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    del style  # one colour per split here, not per method
    title = "ASR per trigger variant"
    caption = (
        "Attack success rate (%, lower is better; share of triggered test prompts whose greedy generation shows the "
        "backdoor behaviour) per trigger variant, one panel per method, bars labelled with their value. Blue: "
        "variants seen in the poisoned training rows; orange: OOD variants. Mean over seeds; error bars: sample std "
        "over seeds. Non-ASCII characters of OOD variants are listed as code points."
    )
    values, split = _collect(runs)
    cats = sorted(
        dict.fromkeys(c for per in values.values() for c in per), key=lambda c: (c.split("::")[0], split[c] != "seen")
    )
    if not cats:
        return PlotResult(name, title, caption, None, "skipped: no run of this dataset has metrics.per_variant")
    note = None
    if len(values) > MAX_PANELS:
        note = f"only the first {MAX_PANELS} of {len(values)} methods are shown"
        values = dict(list(values.items())[:MAX_PANELS])
    width = min(12.0, max(7.0, 1.5 + 0.62 * len(cats)))
    with figure(width, 1.6 + 1.15 * len(values)) as fig:
        axes = fig.subplots(len(values), 1, squeeze=False, sharex=True)[:, 0]
        for ax, (group, per) in zip(axes, values.items(), strict=True):
            _panel(ax, group, cats, per, split)
            for j in range(1, len(cats)):
                if cats[j - 1].split("::")[0] != cats[j].split("::")[0]:
                    ax.axvline(j - 0.5, color="#333333", linewidth=0.8)
        axes[-1].set_xlim(-0.6, len(cats) - 0.4)
        axes[-1].set_xticks(range(len(cats)))
        labels = [glyph_label(c.partition("::")[2] or c).replace(" [U+", "\n[U+") for c in cats]
        # steeper when crowded, so neighbouring labels never overlap (the figure stops widening at 12 in)
        axes[-1].set_xticklabels(labels, rotation=35 if len(cats) <= 18 else 65, ha="right", rotation_mode="anchor")
        for j, cat in enumerate(cats):
            fam = cat.split("::")[0]
            if j == 0 or cats[j - 1].split("::")[0] != fam:
                axes[0].text(j - 0.4, 1.22, fam, fontsize=8, fontweight="bold", transform=axes[0].get_xaxis_transform())
        fig.supylabel("ASR (%), lower is better", fontsize=9)
        handles = [Patch(facecolor=SPLIT_COLORS[s], label=SPLIT_TITLES[s]) for s in ("seen", "ood")]
        fig.legend(handles=handles, loc="outside upper center", ncols=2, title="trigger variant")
        png = to_png(fig)
    return PlotResult(name, title, caption, png, note)
