"""Every bad input: exit code 2, exactly one line on stderr naming what is wrong and how to fix it, no traceback,
and nothing left in --out that a later run would trust (no manifest.json anywhere under it).

Runs each command through the CLI entry point in this process (fast); ``test_bad_input_process.py`` repeats a few
cases as real processes. "Full disk": tests run as root in CI, where ``chmod 0o500`` does not stop writes, so an
unwritable --out is one whose parent is a regular FILE (ENOTDIR for everyone, root included) or a path under
/proc; a disk filling up mid-write is simulated there with RLIMIT_FSIZE.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bad_inputs import CASES, Case, World, build_world, error_lines, prepare

from rapidun.cli.main import main


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("world"))


def _no_model_may_load(*args: object, **kwargs: object) -> None:
    raise AssertionError("a model was built or loaded before the bad input was reported")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_exit_2_one_line(
    case: Case, world: World, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = prepare(case, world, tmp_path)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.early:  # these must be answered before any weights exist: building or loading one fails the test
        import rapidun.modeling.load as load

        for name in ("build_model", "_load_pretrained", "train_tokenizer"):
            monkeypatch.setattr(load, name, _no_model_may_load)
    argv = ["-q", *[a.format(**values) for a in case.args]]
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = error_lines(err)
    assert code == 2, f"exit {code}, stderr: {err[-1500:]}"
    assert len(lines) == 1, f"expected one error line, got {lines}"
    prefix = f"rapidun {argv[1]}: error: "
    assert lines[0].startswith(prefix), lines[0]
    assert re.search(case.error, lines[0][len(prefix) :]), f"{case.error!r} not in {lines[0]!r}"
    out = Path(values["out"])
    if case.args[-1] == "{out}" and out.exists():
        assert not list(out.rglob("manifest.json")), "a failed run left a manifest (it would look finished)"


def test_failed_validation_does_not_block_the_corrected_rerun(world: World, tmp_path: Path) -> None:
    """A run refused before its first step wrote nothing to resume, so the fixed command needs no --overwrite."""
    bad = next(c for c in CASES if c.id == "unlearn-nan-weight")
    values = prepare(bad, world, tmp_path)
    assert main(["-q", *[a.format(**values) for a in bad.args]]) == 2
    fixed = [a.format(**values) for a in bad.args if a not in ("--weights", "{tmp}/w")]
    assert main(["-q", *fixed]) == 0
    assert (Path(values["out"]) / "manifest.json").is_file()


def test_every_case_is_in_the_docs_table() -> None:
    table = (Path(__file__).resolve().parents[2] / "docs" / "robustness.md").read_text(encoding="utf-8")
    missing = [c.id for c in CASES if f"| `{c.id}`" not in table]
    assert not missing, f"add these cases to docs/robustness.md: {missing}"
