"""The sections read from a study's cells: example generations before and after, unlearning loss curves, forget
weights by trigger family, the split per-run tables and the scorer settings table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_fixtures import FAMILIES, HOSTILE_ANSWER, write_run_dir, write_study_cells

from rapidun.reporting import render_report
from rapidun.reporting.render import ReportPaths

EXAMPLES = "### Example generations before and after: dolly-backdoor"


@pytest.fixture(scope="module")
def study_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportPaths]:
    run = write_run_dir(tmp_path_factory.mktemp("study") / "run")
    write_study_cells(run)
    return run, render_report([run], run)


def _examples(md: str) -> str:
    return md.split(EXAMPLES)[1].split("\n### ")[0]


def test_examples_show_the_same_prompts_answered_by_each_model(study_report: tuple[Path, ReportPaths]) -> None:
    _, paths = study_report
    section = _examples(paths.markdown.read_text(encoding="utf-8"))
    prompts = re.findall(r"^```text\n(.*?)\n```", section, flags=re.M | re.S)
    # seen: the two the backdoored model fired on (rows 2 and 4) and the first other (row 0), in row order;
    # then the one OOD prompt (its zero-width joiner made visible) and the first clean prompt
    assert prompts == [
        "What is 2+2? aloha",
        "hey, list fruits.",
        ">>> Spell cat.",
        "Name a tree. aloha<U+200D>",
        "What is 3+3?",
    ]
    first = section.split("**Prompt 2")[0]
    rows = re.findall(r"^\| ([^|]+) \| (yes|no) \|", first, flags=re.M)
    assert [name for name, _ in rows] == [  # the registry's report order
        "backdoored",
        "retrain (seed 0)",
        "rapidun (seed 0)",
        "uniform (seed 0)",
        "ga (seed 0)",
        "loreun (seed 0)",
    ]
    assert "| rapidun (seed 0) | no | rapidun seed 0 answer seen 0 |" in section
    assert "seed 1 answer" not in section  # one seed per method
    assert section.split("**Prompt 3")[0].split("**Prompt 2")[1].count("| backdoored | yes |") == 1


def test_model_output_and_prompts_are_escaped(study_report: tuple[Path, ReportPaths]) -> None:
    _, paths = study_report
    html = paths.html.read_text(encoding="utf-8")
    md = paths.markdown.read_text(encoding="utf-8")
    assert "<script>" not in html and "<script>" not in md
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; a &#124; b" in md  # a pipe must not split the table row
    assert HOSTILE_ANSWER[-300:] in html  # the long word is kept whole: the stylesheet wraps it
    assert "Name a tree. aloha&lt;U+200D&gt;" in html


def test_loss_curves_come_from_each_cell(study_report: tuple[Path, ReportPaths]) -> None:
    _, paths = study_report
    md = paths.markdown.read_text(encoding="utf-8")
    assert "![Unlearning loss curves](report_figures/dolly-backdoor_loss_curves.png)" in md
    assert "no per-step losses recorded" not in md  # every method of the fixture has them


def test_forget_weights_by_family(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", seeds=(0,))
    write_study_cells(run, seeds=(0,))
    fams = list(FAMILIES)  # the fixture's forget rows cycle through the families in this order
    per_family = {fams[0]: 2.0, fams[1]: 0.5, fams[2]: 1.0}
    rows = [{"index": i, "weight": per_family[fams[i % 3]] + (0.1 if i == 0 else 0.0)} for i in range(80)]
    (run / "weights" / "dolly-backdoor" / "rapidun" / "0" / "forget_weights.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    results = json.loads((run / "results.json").read_text())
    for r in results["runs"]:
        if r["method"] == "loreun":
            r["weights_dir"] = None  # loreun keeps its forget weights in run.json instead
    (run / "results.json").write_text(json.dumps(results))
    loreun = [3.0 if i % 3 == 1 else 0.0 for i in range(80)]
    run_json = run / "dolly-backdoor" / "cells" / "loreun" / "seed0" / "unlearn" / "run.json"
    run_json.write_text(json.dumps({"losses": [1.0], "weights": {"summary": {"forget_weights": loreun}}}))
    md = render_report([run], tmp_path / "out").markdown.read_text(encoding="utf-8")
    # 27 A_surface rows (0, 3, ..., 78), one of them 2.1: mean 2.0037, std 0.0192; 27 B_style rows; 26 C_semantic
    assert "| method | A_surface (27 rows) | B_style (27 rows) | C_semantic (26 rows) | all (80 rows) |" in md
    assert "| rapidun (seed 0) | 2.00 ± 0.02 [2.00, 2.10] | 0.50 ± 0.00 [0.50, 0.50] | 1.00 ± 0.00 [1.00, 1.00] |" in md
    assert "| loreun (seed 0) | 0.00 ± 0.00 [0.00, 0.00] | 3.00 ± 0.00 [3.00, 3.00] |" in md
    assert "Equal forget weights on every row (not tabulated): uniform." in md
    assert "![Forget weights by trigger family](report_figures/dolly-backdoor_weights_by_family.png)" in md


def test_per_run_details_and_scorer_settings_are_narrow_tables(study_report: tuple[Path, ReportPaths]) -> None:
    _, paths = study_report
    md = paths.markdown.read_text(encoding="utf-8")
    heads = [line for line in md.splitlines() if line.startswith("| method | seed |")]
    assert len(heads) == 2 and all(h.count("|") - 1 <= 9 for h in heads)
    assert re.search(r"^\| rapidun \| 0 \| [0-9.]+ \[[0-9.]+, [0-9.]+\] \(n=300\) \|", md, flags=re.M)


def test_scorer_settings_are_a_table_not_json(tmp_path: Path) -> None:
    run = write_run_dir(tmp_path / "run", seeds=(0,))
    results = json.loads((run / "results.json").read_text())
    scorer = {"name": "keywords", "threshold": 2, "calibration_table": [{"threshold": 1, "fpr": 0.1}], "val_fpr": None}
    for r in results["runs"]:
        r["metrics"]["scorer"] = scorer
    (run / "results.json").write_text(json.dumps(results))
    md = render_report([run], tmp_path / "out").markdown.read_text(encoding="utf-8")
    assert "| setting | value |\n|---|---|\n| name | keywords |\n| threshold | 2 |" in md
    assert "| calibration_table | threshold 1, fpr 0.1 |" in md and "| val_fpr | n/a |" in md
    assert '{"calibration_table"' not in md
