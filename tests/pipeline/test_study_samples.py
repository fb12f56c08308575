"""A study cell keeps the text of its first test prompts and the model's answers (the report's examples)."""

from __future__ import annotations

from types import SimpleNamespace

from rapidun.data.rows import Row
from rapidun.pipeline.datasets import EvalRows
from rapidun.pipeline.study_eval import eval_samples


def _rows(split: str, n: int) -> list[Row]:
    family = None if split == "clean" else "A"
    return [
        Row(f"{split} prompt {i}", "r", context=f"ctx {i}", trigger_family=family, trigger_variant=family)
        for i in range(n)
    ]


def test_samples_are_the_first_rows_of_each_split_with_their_answers() -> None:
    rows = EvalRows(seen=_rows("seen", 4), ood=_rows("ood", 1), clean=_rows("clean", 2))
    generations = [
        {"split": split, "output": f"answer {split} {i}", "success": split == "seen" and i == 1}
        for split, n in (("seen", 4), ("ood", 1), ("clean", 2))
        for i in range(n)
    ]
    samples = eval_samples(SimpleNamespace(generations=generations), rows, n=2)
    assert [s["instruction"] for s in samples["seen"]] == ["seen prompt 0", "seen prompt 1"]
    assert samples["seen"][1] == {
        "instruction": "seen prompt 1",
        "context": "ctx 1",
        "family": "A",
        "variant": "A",
        "output": "answer seen 1",
        "success": True,
    }
    assert [s["output"] for s in samples["ood"]] == ["answer ood 0"]
    assert [(s["output"], s["success"], s["family"]) for s in samples["clean"]] == [
        ("answer clean 0", False, None),
        ("answer clean 1", False, None),
    ]
