"""Every command's ``--help`` shows the defaults of its settings dataclass, flag by flag."""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from rapidun.cli.main import main
from rapidun.data.pack_config import PackConfig
from rapidun.evaluation.config import EvaluateConfig
from rapidun.influence.config import InfluenceConfig
from rapidun.training.sft import TrainConfig
from rapidun.unlearning.config import UnlearnConfig
from rapidun.weighting.compute import WeightParams

COMMANDS = {
    "train": TrainConfig,
    "unlearn": UnlearnConfig,
    "influence": InfluenceConfig,
    "weights": WeightParams,
    "evaluate": EvaluateConfig,
    "poison": PackConfig,
}


def expected_flags(cls: type, prefix: str = "") -> dict[str, str]:
    """flag -> how its default must read in the help (written here, not by the code under test)."""
    out: dict[str, str] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.metadata.get("cli", True):
            continue
        kind = hints[f.name]
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        if dataclasses.is_dataclass(kind) or (inner and dataclasses.is_dataclass(inner[0])):
            out.update(expected_flags(kind if dataclasses.is_dataclass(kind) else inner[0], f"{prefix}{f.name}_"))
            continue
        if typing.get_origin(kind) is dict:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        name = (f.metadata.get("flag") or prefix + f.name).replace("_", "-")
        if default is True:
            out[f"--no-{name}"] = "on"
        elif default is False:
            out[f"--{name}"] = "off"
        elif default is None:
            out[f"--{name}"] = "none"
        elif isinstance(default, tuple):
            out[f"--{name}"] = ",".join(default)
        else:
            out[f"--{name}"] = repr(default) if isinstance(default, str) else str(default)
    return out


def help_text(command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per flag
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_each_dataclass_default(command, capsys, monkeypatch) -> None:
    text = help_text(command, capsys, monkeypatch)
    expected = expected_flags(COMMANDS[command])
    assert len(expected) >= 6
    # one entry per option: its line and the help text argparse puts on the next line when the option is long
    entries = [" ".join(block.split()) for block in re.split(r"\n(?=  -)", text)]
    for flag, default in expected.items():
        line = next((e for e in entries if re.match(rf"{re.escape(flag)}\b", e)), None)
        assert line is not None, f"{command} --help has no {flag}"
        shown = re.search(r"\(default: ([^)]*)\)$", line)
        assert shown is not None, f"{command} {flag}: no default in {line!r}"
        value = shown.group(1).split(";")[0].strip()
        assert value == default.strip("'"), f"{command} {flag}: help says {value!r}, the dataclass {default!r}"


def test_flags_left_out_give_the_dataclass_defaults() -> None:
    import argparse

    from rapidun.cli import train, unlearn, weights

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    assert train.build_config(parser.parse_args(["--model", "m", "--data", "d", "--out", "o"])) == TrainConfig()
    parser = argparse.ArgumentParser()
    unlearn.add_arguments(parser)
    args = parser.parse_args([])
    assert unlearn.build_config(unlearn.resolve_settings(args), args.unlearn_flags) == UnlearnConfig()
    parser = argparse.ArgumentParser()
    weights.add_arguments(parser)
    assert weights.build_params(parser.parse_args(["--influence", "i", "--out", "o"])) == WeightParams()
