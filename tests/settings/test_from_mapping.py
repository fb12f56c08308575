"""``rapidun.settings``: dataclasses built from mappings (checked) and flags generated from dataclasses."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from rapidun.errors import RapidunError
from rapidun.settings import add_arguments, collect, from_mapping, setting


@dataclass(frozen=True)
class Inner:
    r: int = setting(4, "rank")
    targets: tuple[str, ...] = setting(("q", "v"), "layers", flag="targets")


@dataclass(frozen=True)
class Outer:
    lr: float = setting(1e-3, "learning rate")
    seed: int = setting(7, "seed")
    style: str = setting("alpaca", "template", choices=("alpaca", "chat"))
    clip: float | None = setting(1.0, "clip")
    norm: bool = setting(True, "normalise")
    fast: bool = setting(False, "go fast")
    inner: Inner = setting(help="nested", factory=Inner)


def test_nested_mapping_on_top_of_the_defaults_and_lists_become_tuples() -> None:
    got = from_mapping(Outer, {"lr": 2, "inner": {"targets": ["a", "b", "c"]}}, "test")
    assert got == Outer(lr=2.0, inner=Inner(r=4, targets=("a", "b", "c")))
    assert isinstance(got.lr, float) and isinstance(got.inner.targets, tuple)
    base = Outer(inner=Inner(r=9))
    assert from_mapping(Outer, {"inner": {"targets": ["k"]}}, "test", base=base).inner == Inner(r=9, targets=("k",))


def test_unknown_key_names_the_key_the_section_and_the_nearest_valid_one() -> None:
    with pytest.raises(RapidunError) as err:
        from_mapping(Outer, {"seedz": 1}, "study config", section="unlearn")
    assert str(err.value) == "study config: unknown key 'seedz' in unlearn; did you mean 'seed'?"
    with pytest.raises(RapidunError, match=r"unknown key 'rank' in inner; did you mean 'r'\?|valid keys: r, targets"):
        from_mapping(Outer, {"inner": {"rank": 2}}, "test")
    with pytest.raises(RapidunError, match="unknown key 'zzzz'; valid keys: clip, fast, inner"):
        from_mapping(Outer, {"zzzz": 2}, "test")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr": "fast"}, "test: lr must be a float, got 'fast'"),
        ({"seed": 1.5}, "test: seed must be an int, got 1.5"),
        ({"seed": True}, "test: seed must be an int, got True"),
        ({"norm": "yes"}, "test: norm must be a bool"),
        ({"style": "llama"}, "test: style must be one of alpaca, chat, got 'llama'"),
        ({"inner": {"targets": [1]}}, r"test: inner.targets\[0\] must be a str"),
        ({"inner": 3}, "test: 'inner' must be a mapping"),
        ({"lr": None}, "test: lr cannot be empty"),
    ],
)
def test_a_wrong_type_is_one_line_naming_the_key(values, message) -> None:
    with pytest.raises(RapidunError, match=message) as err:
        from_mapping(Outer, values, "test")
    assert "\n" not in str(err.value)


def test_yaml11_exponent_strings_and_none_for_optionals() -> None:
    assert from_mapping(Outer, {"lr": "6e-5", "clip": None}, "test") == Outer(lr=6e-5, clip=None)


def test_flags_are_generated_and_collected_back_nested() -> None:
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, Outer)
    assert flags["inner_r"] == ("inner", "r") and flags["targets"] == ("inner", "targets")
    args = parser.parse_args(["--lr", "0.5", "--no-norm", "--fast", "--inner-r", "2", "--targets", "a, b"])
    given = collect(args, flags)
    assert given == {"lr": 0.5, "norm": False, "fast": True, "inner": {"r": 2, "targets": ("a", "b")}}
    assert collect(parser.parse_args([]), flags) == {}
    assert from_mapping(Outer, given, "flags") == Outer(lr=0.5, norm=False, fast=True, inner=Inner(2, ("a", "b")))
    with pytest.raises(SystemExit):
        parser.parse_args(["--style", "llama"])
