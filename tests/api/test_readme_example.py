"""The README's Python example runs: the ```python block under "## Python API" is parsed from README.md (not
copied) and executed in a temporary directory, with nano-size settings added to each ``rapidun.X(...)`` call."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
# Settings that make each call take seconds on a CPU; they are added to (or replace) the README's keywords.
NANO: dict[str, dict[str, Any]] = {
    "poison": {"n_rows": 200},
    "train": {"max_steps": 6, "batch_size": 8, "max_length": 64, "progress": False},
    "evaluate": {"max_eval": 6, "max_new_tokens": 8, "progress": False},
    "influence": {"max_length": 64, "dim": 256, "progress": False},
    "unlearn": {"epochs": 0.5, "max_length": 64, "progress": False},
}


def readme_python_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python API section should hold one python block"
    return blocks[0]


class _Nano(ast.NodeTransformer):
    """Size names "small" and "tiny" -> "nano"; NANO's keywords set on every ``rapidun.<stage>(...)`` call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant("nano"), node) if node.value in ("small", "tiny") else node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "rapidun":
            self.calls.append(f.attr)
            extra = NANO.get(f.attr, {})
            node.keywords = [k for k in node.keywords if k.arg not in extra]
            node.keywords += [ast.keyword(arg=k, value=ast.Constant(v)) for k, v in extra.items()]
        return node


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import rapidun

    tree = ast.parse(readme_python_block())
    nano = _Nano()
    tree = ast.fix_missing_locations(nano.visit(tree))
    assert set(nano.calls) >= {"poison", "train", "evaluate", "influence", "weights", "unlearn"}
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(tree, "README.md#python-api", "exec"), namespace)
    before, after = namespace["before"], namespace["after"]
    assert isinstance(before, rapidun.EvaluationResult) and isinstance(after, rapidun.EvaluationResult)
    for result in (before, after):
        assert (result.out_dir / "metrics.json").is_file() and result.generations.is_file()
        assert 0.0 <= result.asr_seen <= 1.0 and result.clean_ppl > 1.0
    assert namespace["unlearned"].method == "rapidun" and (tmp_path / "runs/unlearned/manifest.json").is_file()
    assert namespace["weights"].forget_weights.is_file() and namespace["scores"].shapes["FF"] == (
        namespace["pack"].counts["forget"],
        namespace["pack"].counts["forget"],
    )
    assert "seen-trigger ASR" in capsys.readouterr().out
