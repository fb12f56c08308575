"""Per-row weights as a plug-in for every forget loss (ga, graddiff, uniform, npo, simnpo, wga), the check that a
weights directory belongs to these rows, and GA's forget-row budget."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rapidun.artifacts import read_manifest, write_manifest
from rapidun.cli.main import main
from rapidun.data.rows import Row, rows_hash, write_rows
from rapidun.errors import RapidunError
from rapidun.unlearning import METHODS, GAParams, UniformParams, unlearn
from rapidun.unlearning.gradient_run import build_schedule
from rapidun.unlearning.kinds import MethodContext
from rapidun.unlearning.plugin_weights import check_weights_dir, write_row_weights
from rapidun.unlearning.sampling import forget_draw_count, mixture_schedule
from rapidun.weighting import WeightParams, weights_stage

PLUGIN = ["ga", "uniform", "npo", "simnpo", "wga"]  # graddiff is an alias of uniform


def test_the_plugin_methods_declare_it() -> None:
    assert sorted(n for n, m in METHODS.items() if getattr(m, "takes_weights", False)) == sorted(PLUGIN)


def _run(name, nano_model, split, out: Path, make_config, weights_dir=None) -> tuple[dict, dict]:
    forget, retain = split
    unlearn(
        copy.deepcopy(nano_model.model),
        nano_model.tokenizer,
        forget,
        retain,
        out,
        method=name,
        train=make_config(batch_size=2),
        weights_dir=weights_dir,
        progress=False,
    )
    return json.loads((out / "run.json").read_text()), load_file(str(out / "adapter_model.safetensors"))


@pytest.mark.parametrize("name", PLUGIN)
def test_all_ones_weights_reproduce_the_unweighted_method(
    name, nano_model, split, tmp_path: Path, make_config, weight_files
) -> None:
    forget, retain = split
    ones = weight_files(tmp_path / "ones", [1.0] * len(forget), [1.0] * len(retain))
    plain_run, plain = _run(name, nano_model, split, tmp_path / "plain", make_config)
    ones_run, weighted = _run(name, nano_model, split, tmp_path / "weighted", make_config, ones)
    assert ones_run["weights"]["source"] == f"weights_dir:{ones}"  # the file was read, not ignored
    assert ones_run["losses"] == pytest.approx(plain_run["losses"], rel=1e-6, abs=1e-6)
    for key, tensor in plain.items():
        torch.testing.assert_close(weighted[key], tensor, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ["ga", "npo"])
def test_unequal_weights_change_the_run(name, nano_model, split, tmp_path: Path, make_config, weight_files) -> None:
    forget, retain = split
    skewed = weight_files(tmp_path / "skewed", [1.9, 0.1], [1.0] * len(retain))
    plain_run, _ = _run(name, nano_model, split, tmp_path / "plain", make_config)
    skewed_run, _ = _run(name, nano_model, split, tmp_path / "skewed_out", make_config, skewed)
    assert skewed_run["losses"] != pytest.approx(plain_run["losses"], rel=1e-3)


def _weights_for(tmp: Path, kwargs_for, forget: list[Row], retain: list[Row]) -> Path:
    """A ``rapidun weights`` output made from a (fake) influence run whose manifest records these rows' hashes."""
    influence = kwargs_for("rapidun", tmp, 2, 6)["influence_dir"]  # a finished fake influence dir under tmp
    manifest = read_manifest(influence) or {}
    manifest["sets"] = {"F": {"data": rows_hash(forget)}, "R": {"data": rows_hash(retain)}}
    write_manifest(influence, manifest)
    weights_stage(tmp / "weights", WeightParams(), influence_dir=influence)
    return tmp / "weights"


def test_weights_made_for_other_rows_are_refused(split, tmp_path: Path, kwargs_for) -> None:
    forget, retain = split
    check_weights_dir(_weights_for(tmp_path / "same", kwargs_for, forget, retain), forget, retain)  # accepted
    edited = [Row(r.instruction + " (edited)", r.response, r.context) for r in forget]
    wdir = _weights_for(tmp_path / "other", kwargs_for, edited, retain)
    with pytest.raises(RapidunError, match="influence on another forget set"):
        check_weights_dir(wdir, forget, retain)
    with pytest.raises(RapidunError, match=r"made for 2 forget / 6 retain rows but the data has 1 / 6"):
        check_weights_dir(wdir, forget[:1], retain)
    with pytest.raises(RapidunError, match="influence on another retain set"):
        check_weights_dir(_weights_for(tmp_path / "r", kwargs_for, forget, retain[::-1]), forget, retain)


@pytest.mark.parametrize("name", PLUGIN)
def test_unlearn_refuses_weights_for_another_forget_set_before_training(
    name, nano_model, split, tmp_path: Path, make_config, kwargs_for
) -> None:
    forget, retain = split
    wdir = _weights_for(tmp_path, kwargs_for, [Row("another prompt", "another answer"), *forget[1:]], retain)
    model = copy.deepcopy(nano_model.model)
    with pytest.raises(RapidunError, match="recompute them with 'rapidun weights'"):
        unlearn(model, nano_model.tokenizer, forget, retain, tmp_path / "o", method=name, weights_dir=wdir)
    assert not (tmp_path / "o" / "run.json").exists()


def test_hand_written_weights_with_another_row_count_are_refused(
    nano_model, split, tmp_path: Path, make_config, weight_files
) -> None:
    forget, retain = split
    wdir = weight_files(tmp_path / "w", [1.0] * (len(forget) + 1), [1.0] * len(retain))
    with pytest.raises(RapidunError, match="does not match a row"):
        _run("npo", nano_model, split, tmp_path / "o", make_config, wdir)


def _ctx(n_forget: int, n_retain: int, make_config) -> MethodContext:
    from types import SimpleNamespace

    data = SimpleNamespace(n_forget=n_forget, n_retain=n_retain)
    return MethodContext(None, None, data, make_config(epochs=2.0), Path("."), None)  # type: ignore[arg-type]


def test_ga_matched_budget_has_the_mixed_schedules_forget_draws(make_config) -> None:
    ctx = _ctx(40, 120, make_config)
    mixed = build_schedule(METHODS["uniform"], UniformParams(), ctx)
    matched = build_schedule(METHODS["ga"], GAParams(draws="matched"), ctx)
    default = build_schedule(METHODS["ga"], GAParams(), ctx)
    old = build_schedule(METHODS["ga"], GAParams(draws="all"), ctx)
    n_forget_draws = sum(i < 40 for b in mixed for i in b)
    assert 60 < n_forget_draws < 100  # about a quarter of 320 draws
    assert len(matched) == n_forget_draws and all(i < 40 for b in matched for i in b)
    assert default == matched  # the fair budget is the default
    assert len(old) == 320  # the earlier default: 4x the forget-row steps
    assert forget_draw_count(mixed, 40) == n_forget_draws
    assert mixture_schedule(40, 120, forget_only=True, draws=7) == mixture_schedule(40, 0, draws=7)
    with pytest.raises(RapidunError, match="draws must be one of all, matched, forget"):
        GAParams(draws="some")


def test_weights_from_the_api_are_read_and_tied_to_their_rows(
    nano_model, split, tmp_path: Path, make_config, weight_files
) -> None:
    forget, retain = split
    w_f, w_r = np.array([1.7, 0.3]), np.linspace(0.5, 1.5, len(retain))
    api_dir = write_row_weights(tmp_path / "api", w_f, w_r, forget, retain)
    file_dir = weight_files(tmp_path / "files", w_f.tolist(), w_r.tolist())
    api_run, _ = _run("npo", nano_model, split, tmp_path / "a", make_config, api_dir)
    file_run, _ = _run("npo", nano_model, split, tmp_path / "b", make_config, file_dir)
    assert api_run["losses"] == file_run["losses"]
    assert api_run["weights"]["summary"]["forget"]["max"] == pytest.approx(1.7)
    swapped = [forget[1], forget[0]]  # same rows, other order: the indices would point at other rows
    with pytest.raises(RapidunError, match="made for another forget set"):
        check_weights_dir(api_dir, swapped, retain)
    with pytest.raises(RapidunError, match="forget weights must be 2 finite numbers > 0"):
        write_row_weights(tmp_path / "bad", np.array([1.0, 0.0]), w_r, forget, retain)


def test_cli_weights_for_another_forget_set_exit_2(split, tmp_path: Path, capsys) -> None:
    forget, retain = split
    write_rows(tmp_path / "f.jsonl", forget)
    write_rows(tmp_path / "r.jsonl", retain)
    wdir = write_row_weights(tmp_path / "w", np.ones(2), np.ones(len(retain)), forget[::-1], retain)
    argv = ["unlearn", "--model", "nano", "--forget", str(tmp_path / "f.jsonl"), "--retain", str(tmp_path / "r.jsonl")]
    assert main([*argv, "--out", str(tmp_path / "o"), "--method", "simnpo", "--weights", str(wdir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made for another forget set" in err[0] and "recompute them" in err[0], err
