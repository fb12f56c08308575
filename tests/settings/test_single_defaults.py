"""No numeric default is written in two modules of ``src/rapidun``.

Collected with ``ast``: module constants, dataclass-field defaults (``x: int = 5``, ``setting(5, ...)``,
``field(default=5)``), keyword defaults of functions and argparse ``default=5``. A value found in two modules is a
setting written twice (e.g. the unlearning lr in the CLI and the config), unless it is one of the everyday numbers
in ``ALLOWED``, which unrelated settings share by coincidence:

- zero, one, minus one and small counts (off switches, identities, neutral coefficients, "all");
- powers of two up to 32 (batch sizes, ranks) and 4096 (a chunk size vs a vocabulary size);
- round fractions 0.5, 0.1, 0.05, 0.001 (a tolerance vs a noise scale vs a floor) and round counts 20, 40, 50, 100, 1000
  (held-out people vs a refresh interval; a forget-set size vs the released top-k; a checkpoint interval vs a loss bound; a bootstrap count vs a keyword
  count);
- 42, the conventional seed: the stage configs share ``rapidun.settings.SEED``; the data generators and the sampler
  still write it as a keyword default.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "rapidun"
ALLOWED = {0, 1, -1, 2, 3, 4, 8, 10, 16, 32, 4096, 0.5, 0.1, 0.05, 0.001, 20, 40, 50, 100, 1000, 42}


def _number(node: ast.AST | None) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return -inner if inner is not None else None
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _call_defaults(call: ast.Call) -> list[ast.AST]:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    found = [kw.value for kw in call.keywords if kw.arg == "default"]
    if name == "setting" and call.args:
        found.append(call.args[0])
    return found if name in {"setting", "field", "add_argument"} else []


def numeric_defaults(tree: ast.Module) -> list[tuple[float, int]]:
    """(value, line) of every numeric default in one module."""
    nodes: list[ast.AST] = []
    for stmt in tree.body:  # module constants
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            nodes.append(stmt.value) if stmt.value is not None else None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):  # dataclass fields written as `name: type = value`
            nodes.extend(s.value for s in node.body if isinstance(s, ast.AnnAssign) and s.value is not None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nodes.extend(node.args.defaults)
            nodes.extend(d for d in node.args.kw_defaults if d is not None)
        elif isinstance(node, ast.Call):
            nodes.extend(_call_defaults(node))
    out = []
    for n in nodes:
        value = _number(n)
        if value is None and isinstance(n, ast.Call):  # setting(5, ...) / field(default=5) in a class body
            value = next((v for v in map(_number, _call_defaults(n)) if v is not None), None)
        if value is not None:
            out.append((value, getattr(n, "lineno", 0)))
    return out


def duplicated_defaults(root: Path) -> dict[float, list[str]]:
    where: dict[float, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        for value, line in numeric_defaults(ast.parse(path.read_text(encoding="utf-8"))):
            if value not in ALLOWED:
                where[value].add(f"{path.relative_to(root)}:{line}")
    return {v: sorted(places) for v, places in where.items() if len({p.split(":")[0] for p in places}) > 1}


def test_no_numeric_default_is_written_in_two_modules() -> None:
    dupes = duplicated_defaults(SRC)
    assert not dupes, "numeric defaults written in several modules: " + "; ".join(
        f"{v:g} in {', '.join(p)}" for v, p in sorted(dupes.items())
    )


def test_the_check_finds_a_planted_duplicate(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from dataclasses import dataclass\n@dataclass\nclass A:\n    lr: float = 6e-5\n")
    (tmp_path / "b.py").write_text("def f(parser):\n    parser.add_argument('--lr', type=float, default=6e-5)\n")
    (tmp_path / "c.py").write_text("DIM = 65_536\ndef g(k: int = 65536):\n    return k\n")
    found = duplicated_defaults(tmp_path)
    assert set(found) == {6e-5}
    assert [p.split(":")[0] for p in found[6e-5]] == ["a.py", "b.py"]
