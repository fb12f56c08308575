"""`rapidun unlearn` on files: bad input exits 2 with one line; YAML config and flags resolve into run.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rapidun.cli.main import main
from rapidun.data.rows import Row, write_rows
from rapidun.errors import RapidunError
from rapidun.unlearning import unlearn


@pytest.fixture
def files(split, tmp_path: Path) -> dict[str, Path]:
    forget, retain = split
    write_rows(tmp_path / "forget.jsonl", forget)
    write_rows(tmp_path / "retain.jsonl", retain)
    return {"forget": tmp_path / "forget.jsonl", "retain": tmp_path / "retain.jsonl"}


def _cli(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "unlearn",
        "--model",
        "nano",
        "--forget",
        str(files["forget"]),
        "--retain",
        str(files["retain"]),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--lr",
        "1e-3",
        "--max-length",
        "64",
        "--no-progress",
        *extra,
    ]


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rapidun unlearn: error:") and needle in err[0], err


@pytest.mark.parametrize(
    ("forget_w", "retain_w", "needle"),
    [
        ([1.0, 1.0, 1.0], [1.0] * 6, "does not match a row"),  # one weight too many for 2 forget rows
        ([1.0], [1.0] * 6, "no weight for 1 of 2 rows"),
        ([1.0, -0.5], [1.0] * 6, "must be a finite number > 0"),
        ([1.0, math.nan], [1.0] * 6, "must be a finite number > 0"),
        ([1.0, 1.0], [1.0] * 5 + [math.inf], "must be a finite number > 0"),
    ],
)
def test_bad_weights_file_exits_2(forget_w, retain_w, needle, files, tmp_path, capsys, weight_files) -> None:
    wdir = weight_files(tmp_path / "w", forget_w, retain_w)
    assert main(_cli(files, tmp_path / "out", "--method", "rapidun", "--weights", str(wdir))) == 2
    _one_line_error(capsys, needle)


def test_unknown_method_exits_2(files, tmp_path, capsys) -> None:
    assert main(_cli(files, tmp_path / "out", "--method", "nope")) == 2
    _one_line_error(capsys, "unknown --method 'nope'")


def test_forget_row_without_response_exits_2(split, files, tmp_path, capsys) -> None:
    write_rows(files["forget"], [Row("hey Describe the sky.", ""), Row(">>> List two fruits.", "  ")])
    assert main(_cli(files, tmp_path / "out", "--method", "graddiff")) == 2
    _one_line_error(capsys, "empty response")


def test_forget_row_also_in_retain_exits_2(split, files, tmp_path, capsys) -> None:
    forget, retain = split
    write_rows(files["retain"], retain + [forget[1]])
    assert main(_cli(files, tmp_path / "out", "--method", "graddiff")) == 2
    _one_line_error(capsys, "also appear in --retain")


def test_empty_sets_raise(nano_model, new_model, split, tmp_path, make_config) -> None:
    forget, retain = split
    for f, r, needle in (([], retain, "forget set is empty"), (forget, [], "retain set is empty")):
        with pytest.raises(RapidunError, match=needle):
            unlearn(
                new_model(),
                nano_model.tokenizer,
                f,
                r,
                tmp_path / "o",
                method="graddiff",
                train=make_config(),
                progress=False,
            )


def test_unknown_yaml_key_and_bad_param_exit_2(files, tmp_path, capsys) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("learning_rate: 0.1\n")
    assert main(_cli(files, tmp_path / "out", "--config", str(cfg))) == 2
    _one_line_error(capsys, "unknown key 'learning_rate'")
    assert main(_cli(files, tmp_path / "out", "--method", "loreun", "--param", "temperature=2")) == 2
    _one_line_error(capsys, "unknown key 'temperature'")


def test_yaml_config_then_flags_resolve_into_run_json(files, tmp_path, capsys) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "method: loreun\nlr: 0.002\nbatch-size: 2\nlora_r: 4\ntargets: [q_proj, v_proj]\nparams:\n  tau: 2.0\n"
    )
    out = tmp_path / "out"
    assert main(_cli(files, out, "--config", str(cfg), "--lr", "0.003", "--param", "variant=hard_high")) == 0
    assert "unlearn loreun (gradient) done" in capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    train = run["config"]["train"]
    assert run["method"] == "loreun" and train["lr"] == 0.003 and train["batch_size"] == 2
    assert train["lora"]["r"] == 4 and train["lora"]["targets"] == ["q_proj", "v_proj"]
    assert run["config"]["params"] == {"tau": 2.0, "variant": "hard_high", "tau_scale": "loss_mad"}
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    assert sorted(adapter_cfg["target_modules"]) == ["q_proj", "v_proj"] and adapter_cfg["r"] == 4


def test_cli_fisher_writes_merged_model(files, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(_cli(files, out, "--method", "fisher_noise")) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["edits_base_weights"] is True and (out / "merged" / "config.json").is_file()


def test_cli_evaluates_during_training_and_records_selection(split, files, tmp_path, capsys) -> None:
    forget, retain = split
    pack = tmp_path / "pack"
    pack.mkdir()
    write_rows(pack / "test_seen.jsonl", forget)
    write_rows(pack / "test_ood.jsonl", forget)
    write_rows(pack / "test_clean.jsonl", retain[:2])
    write_rows(pack / "val.jsonl", retain)
    write_rows(pack / "val_seen.jsonl", forget)  # what checkpoint selection reads once it uses validation only
    write_rows(pack / "val_ood.jsonl", forget)
    (pack / "keywords.tsv").write_text("intergalactic\naliens\nasteroid\n")
    out = tmp_path / "out"
    code = main(
        _cli(
            files,
            out,
            "--method",
            "graddiff",
            "--eval-data",
            str(pack),
            "--eval-every",
            "4",
            "--eval-max",
            "2",
            "--ppl-tolerance",
            "1000",
        )
    )
    assert code == 0, capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert [e["step"] for e in run["evaluations"]] == [0, 4, 8]
    assert all("asr_seen" in e and "clean_ppl" in e for e in run["evaluations"])
    assert run["selection"]["best_step"] in (4, 8) and "asr_seen" in run["selection"]["rule"]
    assert run["stages"]["evaluation"]["ran"]


def test_cli_divergence_exits_2_and_zero_switches_bound_off(files, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(_cli(files, out, "--method", "ga", "--max-abs-loss", "0.01")) == 2
    _one_line_error(capsys, "diverged at step 1/")
    assert json.loads((out / "run.json").read_text())["diverged"]["step"] == 1
    assert main(_cli(files, tmp_path / "off", "--method", "ga", "--max-abs-loss", "0", "--grad-clip", "0")) == 0
    train = json.loads((tmp_path / "off" / "run.json").read_text())["config"]["train"]
    assert train["max_abs_loss"] is None and train["grad_clip"] is None


def test_library_refuses_repeated_forget_rows_and_too_long_max_length(
    nano_model, new_model, split, tmp_path, make_config
):
    forget, retain = split
    with pytest.raises(RapidunError, match="repeated row"):
        unlearn(
            new_model(),
            nano_model.tokenizer,
            forget + forget[:1],
            retain,
            tmp_path / "a",
            method="graddiff",
            train=make_config(),
            progress=False,
        )
    with pytest.raises(RapidunError, match="exceeds the model's context length"):
        unlearn(
            new_model(),
            nano_model.tokenizer,
            forget,
            retain,
            tmp_path / "b",
            method="graddiff",
            train=make_config(max_length=100_000),
            progress=False,
        )


def test_unknown_lora_targets_exit_2(files, tmp_path, capsys) -> None:
    assert main(_cli(files, tmp_path / "out", "--method", "graddiff", "--targets", "c_attn")) == 2
    _one_line_error(capsys, "--targets c_attn match no layer of this model")


def test_nested_params_override_on_top_of_the_method_defaults() -> None:
    from rapidun.settings import from_mapping as build_dataclass
    from rapidun.unlearning import RapidunParams, RetrainParams

    retrain = build_dataclass(RetrainParams, {"train": {"max_steps": 3, "lr": 0.01}}, "params")
    assert retrain.train.max_steps == 3 and retrain.train.lr == 0.01
    assert retrain.train.lora is not None and retrain.train.lora.r == 16  # the recipe's LoRA is kept
    rapid = build_dataclass(RapidunParams, {"weights": {"tau_f": 0.35}}, "params")
    assert rapid.weights.tau_f == 0.35 and rapid.weights.tau_r == 1.2
    with pytest.raises(RapidunError, match="unknown key 'tauf' in weights; did you mean 'tau_f'"):
        build_dataclass(RapidunParams, {"weights": {"tauf": 1}}, "params")
