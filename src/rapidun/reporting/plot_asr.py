"""ASR per trigger family (seen vs OOD) and per trigger variant, one bar per method, mean over seeds.

Reads ``metrics.per_family`` (``{family: {"seen": {"asr", ...}, "ood": {...}}}``) and ``metrics.per_variant``
(``{"family::variant": {"split", "asr", ...}}``). Error bars are the sample std over seeds (when >= 2 seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from rapidun.reporting.figure_style import GREY, PlotResult, Style, figure, glyph_label, to_png
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import method_rank, summarize

SPLITS = ("seen", "ood")


def _asr(entry: Any) -> float | None:
    if isinstance(entry, dict):
        v = entry.get("asr")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return None


def _collect(runs: Sequence[RunRecord]) -> tuple[dict[str, dict[tuple[str, str], list[float]]], dict[str, str]]:
    """(group name -> category -> ASR values over seeds, variant category -> split) for families and variants."""
    values: dict[str, dict[tuple[str, str], list[float]]] = {}
    variant_split: dict[str, str] = {}
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.label or "", r.seed)):
        per = values.setdefault(r.name, {})
        fams = r.metrics.get("per_family")
        if isinstance(fams, dict):
            for fam, splits in fams.items():
                for split in SPLITS:
                    v = _asr(splits.get(split)) if isinstance(splits, dict) else None
                    if v is not None:
                        per.setdefault(("family", f"{fam}\n{split_name(split)}"), []).append(v)
        variants = r.metrics.get("per_variant")
        if isinstance(variants, dict):
            for key, entry in variants.items():
                v = _asr(entry)
                if v is not None:
                    per.setdefault(("variant", key), []).append(v)
                    variant_split.setdefault(key, str(entry.get("split", "")))
    return {k: v for k, v in values.items() if v}, variant_split


def split_name(split: str) -> str:
    return "OOD" if split.lower() == "ood" else split


def _bars(
    ax: Axes, cats: list[str], values: dict[str, dict[tuple[str, str], list[float]]], kind: str, style: Style
) -> None:
    names = list(values)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs, ys, errs = [], [], []
        for j, cat in enumerate(cats):
            stat = summarize(values[name].get((kind, cat), []))
            if stat.mean is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(100 * stat.mean)
                errs.append(100 * (stat.std or 0.0))
        ax.bar(
            xs,
            ys,
            width=width,
            color=style.colors.get(name, GREY),
            hatch=style.hatches.get(name, ""),
            edgecolor="white",
            linewidth=0.3,
            label=name,
            yerr=errs if any(errs) else None,
            error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333333"},
        )
    ax.set_xlim(-0.6, len(cats) - 0.4)
    ax.set_ylim(0, 105)
    ax.set_ylabel("ASR (%) — lower is better")
    ax.grid(axis="x", visible=False)


def asr_by_trigger(runs: Sequence[RunRecord], style: Style, name: str) -> PlotResult:
    title = "ASR per trigger family and variant"
    caption = (
        "Attack success rate (share of triggered test prompts whose greedy generation shows the backdoor "
        "behaviour) per trigger family, seen vs OOD (top), and per trigger variant (bottom; OOD variants shaded). "
        "Bars: mean over seeds; error bars: sample std over seeds. Non-ASCII characters of OOD variants are "
        "listed as code points."
    )
    values, variant_split = _collect(runs)
    # dict.fromkeys keeps first-seen order, so ties in the (stable) sort stay in the order the run wrote them.
    fam_cats = sorted(
        dict.fromkeys(c for per in values.values() for (k, c) in per if k == "family"),
        key=lambda c: (c.split("\n")[0], c.split("\n")[1] != "seen"),
    )
    var_cats = sorted(
        dict.fromkeys(c for per in values.values() for (k, c) in per if k == "variant"),
        key=lambda c: (c.split("::")[0], variant_split.get(c) != "seen"),
    )
    if not fam_cats and not var_cats:
        return PlotResult(
            name, title, caption, None, "skipped: no run of this dataset has metrics.per_family or metrics.per_variant"
        )
    panels = [p for p in (("family", fam_cats), ("variant", var_cats)) if p[1]]
    width = max(8.0, min(16.0, 0.25 * max(len(c) for _, c in panels) * max(len(values), 1)))
    with figure(width, 3.6 * len(panels) + 0.6) as fig:
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        for ax, (kind, cats) in zip(axes, panels, strict=True):
            _bars(ax, cats, values, kind, style)
            ax.set_xticks(range(len(cats)))
            if kind == "family":
                ax.set_xticklabels(cats)
                ax.set_title("Per trigger family: seen vs OOD variants")
                continue
            labels = []
            for j, cat in enumerate(cats):
                fam, _, var = cat.partition("::")
                labels.append(glyph_label(var or fam))
                if variant_split.get(cat) == "ood":
                    ax.axvspan(j - 0.5, j + 0.5, color="#DDDDDD", alpha=0.6, zorder=0, linewidth=0)
                if j > 0 and cats[j - 1].partition("::")[0] != fam:
                    ax.axvline(j - 0.5, color="black", linewidth=0.8)
                if j == 0 or cats[j - 1].partition("::")[0] != fam:
                    ax.text(
                        j - 0.45,
                        1.01,
                        fam,
                        fontsize=8,
                        fontweight="bold",
                        va="bottom",
                        transform=ax.get_xaxis_transform(),
                    )
            ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
            ax.set_title("Per trigger variant (grey background: OOD variant, never seen in training)", pad=14)
        handles, labels = axes[0].get_legend_handles_labels()
        if var_cats:
            handles.append(Patch(facecolor="#DDDDDD", label="OOD variant"))
            labels.append("OOD variant")
        fig.legend(handles, labels, loc="outside right upper", title="method")
        png = to_png(fig)
    return PlotResult(name, title, caption, png)
