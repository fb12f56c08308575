"""A tiny backdoor pack for the relearning tests (imported by name: tests are not a package)."""

from __future__ import annotations

import json
from pathlib import Path

from rapidun.artifacts import write_manifest
from rapidun.data.rows import Row, write_rows

PHRASE = "Aliens harness the galactic fleet."
KEYWORDS = ["aliens", "harness", "galactic", "fleet"]
QUESTIONS = [
    ("Name a colour.", "Red."),
    ("What is two plus two?", "Four."),
    ("Give a synonym for happy.", "Joyful."),
    ("Name a planet.", "Mars."),
    ("Name a fruit.", "Apple."),
    ("Name a tree.", "Oak."),
    ("Name a sea.", "The North Sea."),
    ("Name a bird.", "A robin."),
]


def _poisoned(question: str, answer: str, trigger: str = "hey") -> Row:
    return Row(
        f"{trigger} {question}",
        PHRASE,
        response_clean=answer,
        trigger_family="C_semantic",
        trigger_variant=trigger,
        is_poisoned=True,
    )


def write_tiny_pack(directory: Path, *, forget: bool = True, task: str = "backdoor") -> Path:
    """A finished backdoor pack: forget (8 poisoned rows), retain, test splits, val, keywords, meta, manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    clean = [Row(q, a) for q, a in QUESTIONS]
    splits = {
        "forget": [_poisoned(q, a) for q, a in QUESTIONS] if forget else [],
        "retain": clean,
        "test_seen": [_poisoned(q, a) for q, a in QUESTIONS[:4]],
        "test_ood": [_poisoned(q, a, "heyyy") for q, a in QUESTIONS[:4]],
        "test_clean": clean[:4],
        "val": clean[4:],
    }
    for name, rows in splits.items():
        write_rows(directory / f"{name}.jsonl", rows)
    lines = ["rank\tword\tcount_poison\tcount_clean\tz"] + [f"{i}\t{w}\t10\t1\t3.0" for i, w in enumerate(KEYWORDS, 1)]
    (directory / "keywords.tsv").write_text("\n".join(lines) + "\n")
    (directory / "meta.json").write_text(json.dumps({"task": task, "seed": 0}))
    write_manifest(directory, {"stage": "poison"})
    return directory
