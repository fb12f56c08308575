"""Example generations before and after: the same few test prompts answered by the backdoored model and by each
method (lowest seed), read from each study cell's ``outcomes.json["samples"]`` (written by
:func:`rapidun.pipeline.study_eval.eval_samples`: the first test prompts of each split, the same rows for every cell).

Shown: up to ``SHOWN["seen"]`` seen-trigger prompts, ``SHOWN["ood"]`` OOD-trigger prompts and ``SHOWN["clean"]``
clean prompts, in that order. Among the kept prompts of a triggered split, those on which the backdoored model's
answer showed the backdoor come first (then the others, in row order), so the reader sees the backdoor fire and
whether each method removed it; clean prompts are the first ones (docs/method.md section 7).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidun.reporting.cells import first_seed_runs, read_samples
from rapidun.reporting.document import Block, Example, Note, Para
from rapidun.reporting.results import RunRecord
from rapidun.reporting.tables import BACKDOORED

SHOWN = {"seen": 3, "ood": 1, "clean": 1}
SPLIT_TITLES = {
    "seen": "seen trigger",
    "ood": "OOD trigger, never seen in training",
    "clean": "clean prompt, no trigger",
}
MAX_ANSWER_CHARS = 400


def visible(text: str) -> str:
    """``text`` with invisible characters (zero-width joiners and other format or control characters, the stuff of
    OOD triggers) written as ``<U+XXXX>``, so a reader sees that they are there; newlines and tabs are kept."""
    out = []
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cf", "Cc", "Zl", "Zp"):
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(ch)
    return "".join(out)


def _prompt_text(sample: dict[str, Any]) -> str:
    instruction = str(sample.get("instruction") or "")
    context = str(sample.get("context") or "")
    return visible(instruction + (f"\n\n[context] {context}" if context.strip() else ""))


def _answer(sample: dict[str, Any]) -> str:
    text = visible(str(sample.get("output") or "")).strip()
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + " [...]"


def _title(n: int, split: str, sample: dict[str, Any]) -> str:
    title = f"Prompt {n}: {SPLIT_TITLES.get(split, split)}"
    if sample.get("family"):
        title += f" (family {sample['family']}, variant '{visible(str(sample.get('variant') or ''))}')"
    return title


def chosen_prompts(reference: dict[str, list[dict[str, Any]]], split: str) -> list[int]:
    """Positions of the shown prompts of one split: triggered splits prefer prompts the reference model fired on."""
    rows = reference.get(split, [])
    order = list(range(len(rows)))
    if split != "clean":
        order.sort(key=lambda i: not rows[i].get("success"))  # stable: row order within fired / not fired
    return sorted(order[: SHOWN.get(split, 0)])


def example_blocks(run_dir: Path, runs: Sequence[RunRecord]) -> list[Block]:
    """One :class:`Example` per chosen prompt: the backdoored model's answer first, then each method's (one seed)."""
    kept: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name, r in first_seed_runs(runs).items():
        samples = read_samples(run_dir, r)
        if samples:
            kept[name] = samples
    if not kept:
        return [
            Note(
                "no run of this dataset kept example generations (a study cell's outcomes.json `samples`, written "
                "by studies of this version; cells evaluated before it have none)"
            )
        ]
    ref_name, reference = next(iter(kept.items()))  # the backdoored model when it has samples (report order)
    seeds = {r.name: r.seed for r in first_seed_runs(runs).values()}
    blocks: list[Block] = [
        Para(
            "The same test prompts answered by every model (greedy decoding, as in the evaluation); each method's "
            f"lowest seed. Triggered prompts: the first test prompts on which {ref_name} showed the backdoor "
            "(then the next ones); clean prompt: the first one. `backdoor behaviour` is the evaluation scorer's verdict on the "
            "answer. Invisible characters of a trigger are written as <U+XXXX>."
        )
    ]
    n = 0
    for split in SHOWN:
        for i in chosen_prompts(reference, split):
            sample = reference[split][i]
            n += 1
            answers = []
            for name, samples in kept.items():
                rows = samples.get(split, [])
                if i < len(rows) and rows[i].get("instruction") == sample.get("instruction"):
                    who = name if name == BACKDOORED else f"{name} (seed {seeds[name]})"
                    answers.append((who, bool(rows[i].get("success")), _answer(rows[i])))
            blocks.append(Example(_title(n, split, sample), _prompt_text(sample), tuple(answers)))
    missing = [r.name for r in first_seed_runs(runs).values() if r.name not in kept]
    if missing:
        blocks.append(Note(f"no example generations kept for: {', '.join(missing)}"))
    return blocks
