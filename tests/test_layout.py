"""The code layout STYLE.md asks for, checked on the source tree with ``ast`` (nothing is imported):

- every module of ``src/rapidun`` is under 300 lines and every function (methods and nested functions included)
  under 80;
- no module or package is named ``utils``;
- imports flow one way: a stage package never imports a later stage (order below); the bottom modules
  (``errors``, ``artifacts``, ``costs``, ``settings``) may be imported from anywhere and import only each other;
- every docstring reference ``docs/method.md section N`` names a section that exists in docs/method.md.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rapidun"
METHOD_DOC = ROOT / "docs" / "method.md"

MAX_MODULE_LINES = 300  # a module must have fewer lines than this
MAX_FUNCTION_LINES = 80  # a function (def line to last line) must have fewer lines than this
STAGES = (
    "data",
    "modeling",
    "training",
    "influence",
    "weighting",
    "unlearning",
    "evaluation",
    "tracing",  # trace stage: uses influence caching and evaluation generation
    "reporting",
    "pipeline",
    "api",
    "cli",
)
BOTTOM = ("errors", "artifacts", "costs", "settings")
FORBIDDEN_NAMES = ("utils",)

# Known offenders (none today). A name listed here that no longer offends makes its test fail, so the lists can
# only shrink. Paths are relative to src/rapidun; functions are "path:qualified.name".
ALLOWED_LONG_MODULES: set[str] = set()
ALLOWED_LONG_FUNCTIONS: set[str] = set()
ALLOWED_UPWARD_IMPORTS: set[str] = set()  # "path -> rapidun.module"


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path, root: Path = PACKAGE) -> str:
    return path.relative_to(root).as_posix()


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """(qualified name, lines from the def line to the last line) of every function, nested ones included."""
    out: list[tuple[str, int]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            out.append((name, (node.end_lineno or node.lineno) - node.lineno + 1))
            out.extend(_functions(node, f"{name}."))
        elif isinstance(node, ast.ClassDef):
            out.extend(_functions(node, f"{prefix}{node.name}."))
        else:
            out.extend(_functions(node, prefix))
    return out


def _long_modules() -> set[str]:
    return {_rel(p) for p in _modules() if len(p.read_text().splitlines()) >= MAX_MODULE_LINES}


def _long_functions() -> set[str]:
    found = set()
    for p in _modules():
        for name, lines in _functions(ast.parse(p.read_text())):
            if lines >= MAX_FUNCTION_LINES:
                found.add(f"{_rel(p)}:{name}")
    return found


def test_modules_are_short():
    offenders = _long_modules()
    assert sorted(offenders - ALLOWED_LONG_MODULES) == [], f"modules of {MAX_MODULE_LINES}+ lines: split them"
    assert sorted(ALLOWED_LONG_MODULES - offenders) == [], "no longer too long: remove from ALLOWED_LONG_MODULES"


def test_functions_are_short():
    offenders = _long_functions()
    assert sorted(offenders - ALLOWED_LONG_FUNCTIONS) == [], f"functions of {MAX_FUNCTION_LINES}+ lines: extract steps"
    assert sorted(ALLOWED_LONG_FUNCTIONS - offenders) == [], "no longer too long: remove from ALLOWED_LONG_FUNCTIONS"


def test_no_utils_module():
    names = {p.stem for p in _modules()} | {p.name for p in PACKAGE.rglob("*") if p.is_dir()}
    assert names.isdisjoint(FORBIDDEN_NAMES), "name a module after what it holds, not 'utils'"


def _imported(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every ``rapidun`` module imported anywhere in the file (function-level imports too), absolute names."""
    package = ["rapidun", *path.relative_to(root).with_suffix("").parts]
    if path.name != "__init__.py":
        package = package[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names if not node.module and node.level)
    return {m for m in out if m == "rapidun" or m.startswith("rapidun.")}


def _layer(module: str) -> str | None:
    """The first component below ``rapidun`` (``rapidun.influence.stage`` -> ``influence``), or None for the root."""
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else None


def _direction_errors(path: Path, root: Path = PACKAGE) -> list[str]:
    rel = _rel(path, root)
    own = rel.split("/")[0].removesuffix(".py")
    errors = []
    for module in sorted(_imported(path, root)):
        target = _layer(module)
        if target is None or target == own or target in BOTTOM:
            continue  # the root package (its version), the module's own package, or the bottom
        if own in BOTTOM:
            errors.append(f"{rel} -> {module}: a bottom module imports only other bottom modules")
        elif own in STAGES and target in STAGES and STAGES.index(target) > STAGES.index(own):
            errors.append(f"{rel} -> {module}: '{own}' comes before '{target}' in the stage order")
        elif own in STAGES and target not in STAGES:
            errors.append(f"{rel} -> {module}: '{target}' is neither a stage nor a bottom module")
    return errors


def test_imports_flow_one_way():
    errors = [e for p in _modules() if _rel(p) not in ("__init__.py", "__main__.py") for e in _direction_errors(p)]
    allowed = {e.split(":")[0] for e in errors} & ALLOWED_UPWARD_IMPORTS
    assert [e for e in errors if e.split(":")[0] not in allowed] == []


def test_every_top_level_module_is_placed():
    """A new top-level package or module must be added to STAGES or BOTTOM (so the direction rule covers it)."""
    top = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert sorted(top - set(STAGES) - set(BOTTOM) - {"__init__", "__main__"}) == []


def test_direction_check_catches_an_upward_import(tmp_path):
    """The checker itself: upward imports (absolute, relative, inside a function) and a bottom module importing a
    stage are reported; imports of the bottom, of the own package and of earlier stages are not."""
    fake = tmp_path / "rapidun"
    (fake / "data").mkdir(parents=True)
    (fake / "influence").mkdir()
    up = fake / "data" / "rows.py"
    up.write_text(
        "from rapidun.errors import RapidunError\nfrom rapidun.data import prompt\n"
        "def f():\n    from rapidun.evaluation import asr\n"
    )
    relative = fake / "influence" / "score.py"
    relative.write_text("from ..weighting import aggregate\nfrom ..modeling.loss import per_sample_loss\n")
    bottom = fake / "costs.py"
    bottom.write_text("import rapidun.training.loop\n")
    assert _direction_errors(up, fake) == [
        "data/rows.py -> rapidun.evaluation: 'data' comes before 'evaluation' in the stage order"
    ]
    assert _direction_errors(relative, fake) == [
        "influence/score.py -> rapidun.weighting: 'influence' comes before 'weighting' in the stage order"
    ]
    assert _direction_errors(bottom, fake) == [
        "costs.py -> rapidun.training.loop: a bottom module imports only other bottom modules"
    ]


SECTION_REF = re.compile(r"docs/method\.md(\s+(?:section|sections)\s+(\d+)(?:\s*(?:-|and|,)\s*(\d+))*)?")


def _doc_sections() -> set[int]:
    return {int(m.group(1)) for m in re.finditer(r"^## (\d+)\. ", METHOD_DOC.read_text(), re.MULTILINE)}


def test_method_doc_has_the_cited_sections():
    sections = _doc_sections()
    assert sections == set(range(1, 8)), "docs/method.md must keep its sections 1-7 (docstrings cite them)"
    problems = []
    for p in _modules():
        for m in SECTION_REF.finditer(p.read_text()):
            if m.group(1) is None:
                problems.append(f"{_rel(p)}: 'docs/method.md' without 'section N'")
                continue
            for n in re.findall(r"\d+", m.group(1)):
                if int(n) not in sections:
                    problems.append(f"{_rel(p)}: docs/method.md section {n} does not exist")
    assert problems == []


@pytest.mark.parametrize("text", ["see docs/method.md section 9", "see docs/method.md", "docs/method.md Sec. 3"])
def test_section_check_catches_a_bad_reference(text):
    m = SECTION_REF.search(text)
    assert m is not None
    bad = m.group(1) is None or any(int(n) not in _doc_sections() for n in re.findall(r"\d+", m.group(1)))
    assert bad
