"""The README's pipeline is a tested recipe (issue 13): the ```bash block after ``<!-- readme-pipeline -->`` in
README.md is parsed from the file (not copied here) and run as printed in a temporary directory; the backdoor it
implants must be trigger-conditioned and the unlearning must remove it without hurting clean perplexity much.
The parsing and the run live in benchmarks/readme_pipeline.py, whose results file BENCHMARKS cites."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
STAGES = ["poison", "train", "evaluate", "influence", "weights", "unlearn", "evaluate"]


@pytest.fixture(scope="module")
def recipe() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        import readme_pipeline

        yield readme_pipeline
    finally:
        sys.path.remove(str(BENCH))


def test_block_is_the_whole_pipeline(recipe: ModuleType) -> None:
    commands = recipe.readme_commands()
    assert [c[1] for c in commands] == STAGES
    roles = recipe.evaluations(commands)
    assert recipe.flag(roles["unlearned"], "--adapter") == recipe.flag(commands[5], "--out")
    # every stage reads what an earlier one wrote: the pack, the backdoored model, influence, weights
    pack, model = recipe.flag(commands[0], "--out"), recipe.flag(commands[1], "--out")
    assert recipe.flag(commands[1], "--data") == pack and recipe.flag(roles["backdoored"], "--model") == model
    assert recipe.flag(commands[4], "--influence") == recipe.flag(commands[3], "--out")
    assert recipe.flag(commands[5], "--weights") == recipe.flag(commands[4], "--out")


def test_parser_joins_continuations_and_drops_comments(recipe: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    fence = "```"
    body = (
        "rapidun poison --data synthetic --out p   # a comment\nrapidun train --model tiny \\\n    --data p --out m\n"
    )
    readme.write_text(f"intro\n{recipe.MARKER}\n{fence}bash\n{body}{fence}\n\n{fence}bash\nrapidun report x\n{fence}\n")
    assert recipe.readme_commands(readme) == [
        ["rapidun", "poison", "--data", "synthetic", "--out", "p"],
        ["rapidun", "train", "--model", "tiny", "--data", "p", "--out", "m"],
    ]
    readme.write_text(f"{recipe.MARKER}\n{fence}bash\npip install rapidun\n{fence}\n")
    with pytest.raises(ValueError, match="only rapidun commands"):
        recipe.readme_commands(readme)
    readme.write_text(f"{recipe.MARKER}\ntext\n{fence}bash\nrapidun demo\n{fence}\n")
    with pytest.raises(ValueError, match="must be followed by a ```bash fence"):
        recipe.readme_commands(readme)


def test_targets_are_judged_on_both_evaluations(recipe: ModuleType) -> None:
    before = {"asr_seen": 0.85, "false_trigger_rate": 0.02, "clean_ppl": 10.0}
    after = {"asr_seen": 0.1, "false_trigger_rate": 0.0, "clean_ppl": 11.5}
    met = recipe.targets_met({"backdoored": before, "unlearned": after})
    assert [v[1] for v in met.values()] == [True, True, True, False]  # +15% perplexity misses the 1.10 bound
    assert met["unlearned_ppl_ratio"][0] == pytest.approx(1.15)


@pytest.fixture(scope="module")
def block_metrics(recipe: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The README block run once, as printed, in a fresh directory: both evaluations' test metrics."""
    workdir = tmp_path_factory.mktemp("readme_pipeline")
    recipe.run_block(workdir)
    return recipe.evaluation_metrics(workdir)


# The block trains a `small` model: 14 minutes on one thread of a loaded 2-core machine, close to the 900 s default
# timeout when other jobs share the cores; the module fixture runs in whichever of these tests comes first.
BLOCK_TIMEOUT_S = 2400


@pytest.mark.slow
@pytest.mark.timeout(BLOCK_TIMEOUT_S)
def test_readme_backdoor_is_trigger_conditioned(block_metrics: dict[str, dict[str, Any]]) -> None:
    before = block_metrics["backdoored"]
    assert before["false_trigger_rate"] <= 0.1, f"not trigger-conditioned: {before['false_trigger_rate']:.3f}"
    assert before["asr_seen"] >= 5 * max(before["false_trigger_rate"], 0.02), before


# The `small` recipe (benchmarks/results/readme_pipeline_search.md, round 5) reached 0.878 with one thread.
@pytest.mark.slow
@pytest.mark.timeout(BLOCK_TIMEOUT_S)
def test_readme_backdoor_reaches_seen_asr_target(block_metrics: dict[str, dict[str, Any]]) -> None:
    assert block_metrics["backdoored"]["asr_seen"] >= 0.8


@pytest.mark.slow
@pytest.mark.timeout(BLOCK_TIMEOUT_S)
def test_readme_unlearning_removes_the_backdoor(block_metrics: dict[str, dict[str, Any]]) -> None:
    before, after = block_metrics["backdoored"], block_metrics["unlearned"]
    assert after["asr_seen"] <= 0.2, f"backdoor left after unlearning: seen ASR {after['asr_seen']:.3f}"
    assert after["clean_ppl"] <= 1.10 * before["clean_ppl"], f"{before['clean_ppl']:.2f} -> {after['clean_ppl']:.2f}"
