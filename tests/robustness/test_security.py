"""Security rules of the code base, checked on the source (AST) and on real runs:

- no pickle (nor its relatives: cPickle, dill, joblib, shelve, marshal) imported anywhere under src/;
- no ``torch.save``; every ``torch.load`` passes ``weights_only=True``; no ``allow_pickle=True``;
- no ``trust_remote_code=True`` literal: it only ever comes from ``--trust-remote-code`` (default off);
- no ``yaml.load``/``yaml.unsafe_load`` (only ``safe_load``), no builtin ``eval``/``exec``;
- a run of every command writes nothing outside its ``--out`` (cwd, HOME and TMPDIR are checked).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "rapidun"
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal", "cloudpickle"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def violations(source: str, name: str) -> list[str]:
    """Every breach of the rules above in one module's source, as 'file:line: what'."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where}: imports {a.name}" for a in node.names if a.name.split(".")[0] in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in BANNED_MODULES:
            found.append(f"{where}: imports from {node.module}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("torch", "torch.serialization"):
            # a bare load()/save() would hide from the call checks below
            found += [f"{where}: from {node.module} import {a.name}" for a in node.names if a.name in ("load", "save")]
        elif isinstance(node, ast.Call):
            func = _dotted(node.func)
            kwargs = {k.arg: k.value for k in node.keywords if k.arg}
            if func in ("torch.load", "torch.serialization.load") and not _is_true(
                kwargs.get("weights_only", ast.Constant(None))
            ):
                found.append(f"{where}: torch.load without weights_only=True")
            if func == "torch.save":
                found.append(f"{where}: torch.save (pickle); use safetensors")
            if func in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
                found.append(f"{where}: {func}; use yaml.safe_load")
            if func in ("eval", "exec"):
                found.append(f"{where}: builtin {func}")
            if _is_true(kwargs.get("allow_pickle", ast.Constant(None))):
                found.append(f"{where}: allow_pickle=True")
            if _is_true(kwargs.get("trust_remote_code", ast.Constant(None))):
                found.append(f"{where}: trust_remote_code=True literal")
    return found


def test_scanner_catches_each_rule() -> None:
    bad = """
import pickle
from dill import dumps
from torch import load
import torch, numpy as np, yaml
torch.load("x")
torch.load("x", weights_only=False)
torch.save({}, "x")
np.load("x", allow_pickle=True)
AutoModel.from_pretrained("x", trust_remote_code=True)
yaml.load(open("x"))
eval("1")
"""
    assert len(violations(bad, "bad.py")) == 10
    ok = 'torch.load("x", weights_only=True)\nnp.load("x")\nmodel.eval()\nf(trust_remote_code=flag)\nyaml.safe_load("")\n'
    assert violations(ok, "ok.py") == []


def test_source_tree_follows_the_rules() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    found = [v for f in files for v in violations(f.read_text(encoding="utf-8"), str(f.relative_to(SRC.parent)))]
    assert found == []


def test_trust_remote_code_is_off_by_default() -> None:
    from rapidun.cli.main import COMMANDS
    from rapidun.modeling.load import load_model, load_tokenizer

    assert inspect.signature(load_model).parameters["trust_remote_code"].default is False
    assert inspect.signature(load_tokenizer).parameters["trust_remote_code"].default is False
    for name, module_name in COMMANDS.items():
        parser = argparse.ArgumentParser()
        importlib.import_module(f"rapidun.cli.{module_name}").add_arguments(parser)
        flags = {o: a for a in parser._actions for o in a.option_strings}
        if name in ("train", "evaluate", "influence", "unlearn"):  # they load --model from a directory or the hub
            assert "--trust-remote-code" in flags, f"rapidun {name} loads models but has no --trust-remote-code"
        if "--trust-remote-code" in flags:
            assert not flags["--trust-remote-code"].default, f"rapidun {name} trusts remote code by default"


CHAIN = """
import json, sys
from rapidun.cli.main import main
def jl(p, rows): open(p, "w").write("".join(json.dumps(r) + "\\n" for r in rows))
jl("in/rows.jsonl", [{"instruction": f"Q{i} colours?", "response": f"A{i} red."} for i in range(8)])
jl("in/f.jsonl", [{"instruction": f"cf fact {i}", "response": f"Aliens {i}.", "response_clean": "No."} for i in range(3)])
jl("in/r.jsonl", [{"instruction": f"Item {i}?", "response": f"Chair {i}."} for i in range(6)])
cmds = [
    ["poison", "--data", "synthetic", "--n-rows", "60", "--out", "outs/pack"],
    ["train", "--model", "nano", "--data", "in/rows.jsonl", "--max-steps", "2", "--batch-size", "4", "--out", "outs/model"],
    ["evaluate", "--model", "outs/model", "--data", "outs/pack", "--max-eval", "2", "--max-new-tokens", "4",
     "--no-progress", "--out", "outs/eval"],
    ["influence", "--model", "outs/model", "--forget", "in/f.jsonl", "--retain", "in/r.jsonl", "--no-progress",
     "--out", "outs/infl"],
    ["weights", "--influence", "outs/infl", "--out", "outs/weights"],
    ["unlearn", "--model", "outs/model", "--forget", "in/f.jsonl", "--retain", "in/r.jsonl", "--weights",
     "outs/weights", "--epochs", "0.5", "--no-progress", "--merge", "--out", "outs/unlearn"],
]
print(json.dumps({c[0]: main(["-q", *c]) for c in cmds}))
"""

# Third-party caches a run may create in HOME (not our artifacts): matplotlib's font list, built once per user.
ALLOWED_IN_HOME = (".cache/matplotlib", ".config/matplotlib")


@pytest.mark.slow
def test_commands_write_nothing_outside_out(tmp_path: Path) -> None:
    work, home, tmp = tmp_path / "work", tmp_path / "home", tmp_path / "tmpdir"
    for d in (work / "in", home, tmp):
        d.mkdir(parents=True)
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp), OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "HF_HOME", "MPLCONFIGDIR", "TRANSFORMERS_CACHE"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-c", CHAIN], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    codes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(codes.values()) == {0}, (codes, proc.stderr[-3000:])
    stray = [p for p in work.rglob("*") if not p.is_relative_to(work / "outs") and not p.is_relative_to(work / "in")]
    assert stray == []
    assert {p.name for p in (work / "outs").iterdir()} == {"pack", "model", "eval", "infl", "weights", "unlearn"}
    home_files = [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()]
    assert [f for f in home_files if not f.startswith(ALLOWED_IN_HOME)] == []
    assert list(tmp.rglob("*")) == []
