"""A misspelt key anywhere in a study config stops ``rapidun study`` at once: exit 2, one line naming the key and
the nearest valid one, and no output written (validation runs before any model work)."""

from __future__ import annotations

import pytest
import yaml

from rapidun.cli.main import main

BASE = {"name": "typo", "model": "nano", "methods": ["ga"], "seeds": [1], "datasets": [{"name": "d", "n_rows": 60}]}


@pytest.mark.parametrize(
    ("patch", "key", "suggestion"),
    [
        ({"seedz": [1]}, "seedz", "seeds"),
        ({"unlearn": {"lrr": 1e-3}}, "lrr", "lr"),
        ({"influence": {"dimm": 64}}, "dimm", "dim"),
        ({"datasets": [{"name": "d", "n_rowz": 60}]}, "n_rowz", "n_rows"),
        ({"evaluation": {"max_new_token": 8}}, "max_new_token", "max_new_tokens"),
        ({"backdoor": {"epoch": 1}}, "epoch", "epochs"),
        ({"backdoor": {"lora": {"alpah": 4}}}, "alpah", "alpha"),
        ({"sweeps": [{"method": "ga", "label": "x", "unlearn": {"seedd": 3}}]}, "seedd", "seed"),
    ],
)
def test_misspelt_key_fails_before_any_work(patch, key, suggestion, tmp_path, capsys) -> None:
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump({**BASE, **patch}))
    out = tmp_path / "out"
    assert main(["study", str(config), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"unknown key '{key}'" in err[0] and f"did you mean '{suggestion}'?" in err[0], err[0]
    assert not out.exists()  # nothing was built: no pack, no model, no output directory


def test_wrong_type_and_influence_setting_fail_before_any_work(tmp_path, capsys) -> None:
    config = tmp_path / "study.yaml"
    out = tmp_path / "out"
    for patch, needle in [
        ({"unlearn": {"lr": "fast"}}, "unlearn.lr must be a float, got 'fast'"),
        ({"influence": {"projector": "fft"}}, "influence.projector must be one of"),
        ({"influence": {"top_k": 0}}, "--top-k must be >= 1"),
        ({"method_params": {"ga": {"nope": 1}}}, "unknown key 'nope' in method_params.ga"),
    ]:
        config.write_text(yaml.safe_dump({**BASE, **patch}))
        assert main(["study", str(config), "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
        assert not out.exists()


def test_set_override_typo_is_caught_too(tmp_path, capsys) -> None:
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "out"
    assert main(["study", str(config), "--out", str(out), "--set", "unlearn.epohcs=1"]) == 2
    assert "unknown key 'epohcs' in unlearn; did you mean 'epochs'?" in capsys.readouterr().err
    assert not out.exists()
