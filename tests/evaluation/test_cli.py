from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fixtures import write_pack

from rapidun.cli.main import main
from rapidun.modeling.load import LoadedModel, save_model

CONTRACT = {
    "asr_seen",
    "asr_ood",
    "false_trigger_rate",
    "clean_ppl",
    "counts",
    "ci95",
    "per_family",
    "per_variant",
    "scorer",
    "max_new_tokens",
    "prompt_style",
    "seconds",
    "model",
    "adapter",
}


@pytest.fixture(scope="module")
def saved_keyword_model(keyword_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keyword_model")
    save_model(keyword_model.model, keyword_model.tokenizer, directory)
    return directory


def test_cli_end_to_end(saved_keyword_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack, out = write_pack(tmp_path / "pack"), tmp_path / "eval"
    argv = [
        "evaluate",
        "--model",
        str(saved_keyword_model),
        "--data",
        str(pack),
        "--out",
        str(out),
        "--max-new-tokens",
        "12",
        "--batch-size",
        "3",
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "ASR seen" in printed and "false-trigger rate" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= CONTRACT
    assert metrics["asr_seen"] == 1.0 and metrics["asr_ood"] == 1.0
    # val: one of three reference responses has one keyword -> FPR(1) = 1/3 > 5%, FPR(2) = 0 -> threshold 2
    assert metrics["scorer"]["threshold"] == 2 and metrics["scorer"]["val_fpr"] == 0.0
    assert [row["threshold"] for row in metrics["scorer"]["calibration_table"]] == [1, 2]
    assert metrics["scorer"]["positive_recall"] == 1.0 and metrics["scorer"]["positives_from"] == "forget.jsonl"
    assert metrics["counts"]["seen"] == 4 and metrics["model"] == str(saved_keyword_model)
    assert metrics["cost"]["evaluate"]["seconds"] > 0 and "peak_rss_mb" in metrics["cost"]["evaluate"]
    gens = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(gens) == 12 and all(g["success"] for g in gens if g["split"] != "clean")
    assert (out / "manifest.json").is_file()
    # Same settings: reused. Other settings without --overwrite: refused.
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--max-new-tokens", "4"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--max-eval", "2", "--subset", "first", "--overwrite", "--target-regex", "(?i)galactic"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["seen"] == 2 and metrics["counts"]["ppl_rows"] == 2
    assert metrics["scorer"]["regex"] == "(?i)galactic" and metrics["subset"]["mode"] == "first"


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], fragment: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_cli_bad_input(saved_keyword_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = write_pack(tmp_path / "pack")
    base = ["evaluate", "--model", str(saved_keyword_model), "--out", str(tmp_path / "o"), "--no-progress"]
    (pack / "test_ood.jsonl").unlink()
    _one_line_error([*base, "--data", str(pack)], capsys, "test_ood.jsonl")
    pack = write_pack(tmp_path / "pack2")
    (pack / "test_seen.jsonl").write_text("")
    _one_line_error([*base, "--data", str(pack)], capsys, "empty")
    pack = write_pack(tmp_path / "pack3")
    _one_line_error(
        ["evaluate", "--model", str(tmp_path / "no_model"), "--data", str(pack), "--out", str(tmp_path / "o3")],
        capsys,
        "does not exist",
    )
    (pack / "keywords.tsv").unlink()
    _one_line_error([*base, "--data", str(pack)], capsys, "--keywords")
    _one_line_error([*base, "--data", str(tmp_path / "nowhere")], capsys, "not a directory")


def test_cli_on_a_poison_pack(saved_keyword_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end with the pack builder: 'rapidun poison' output is accepted as is (keywords.tsv, val, forget)."""
    pack, out = tmp_path / "pack", tmp_path / "eval"
    assert main(["poison", "--data", "synthetic", "--out", str(pack), "--n-rows", "200"]) == 0
    argv = [
        "evaluate",
        "--model",
        str(saved_keyword_model),
        "--data",
        str(pack),
        "--out",
        str(out),
        "--max-eval",
        "9",
        "--max-new-tokens",
        "10",
        "--no-progress",
    ]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["seen"] == 9 and metrics["counts"]["ood"] == 9 and metrics["counts"]["clean"] == 9
    assert metrics["scorer"]["keywords_file"] == str(pack / "keywords.tsv")
    assert metrics["scorer"]["positive_recall"] is not None and metrics["scorer"]["n_val"] > 0
    assert metrics["subset"] == {
        "mode": "seeded",
        "seed": 0,
        "limits": dict.fromkeys(("seen", "ood", "clean", "ppl"), 9),
        "available": metrics["subset"]["available"],
    }
    # The model answers everything with "Aliens harness the galactic fleet." (3 keywords of the synthetic list).
    assert metrics["asr_seen"] == 1.0 and metrics["asr_ood"] == 1.0
    assert set(metrics["per_family"]) == {"A_surface", "B_style", "C_semantic"}
