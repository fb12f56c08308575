"""``rapidun evaluate --model-dtype``: the model is evaluated in the type asked for (recorded in metrics.json and in
the settings that decide reuse), bf16 gives the fp32 verdicts on CPU, and an unsupported type is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from eval_fixtures import write_pack

from rapidun.cli.main import main
from rapidun.modeling.load import LoadedModel, save_model

# bf16 rounds each op to ~0.2%; over a 2-layer model the mean token loss moves far less than 2%.
PPL_RTOL = 0.02


@pytest.fixture(scope="module")
def saved_model(keyword_model: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keyword_model_dtype")
    save_model(keyword_model.model, keyword_model.tokenizer, directory)
    return directory


def _argv(model: Path, pack: Path, out: Path, *extra: str) -> list[str]:
    settings = ["--max-new-tokens", "12", "--batch-size", "3", "--no-progress"]
    return ["evaluate", "--model", str(model), "--data", str(pack), "--out", str(out), *settings, *extra]


def test_bf16_evaluation_matches_fp32(saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = write_pack(tmp_path / "pack")
    assert main(_argv(saved_model, pack, tmp_path / "fp32")) == 0
    assert main(_argv(saved_model, pack, tmp_path / "bf16", "--model-dtype", "bf16")) == 0
    ref = json.loads((tmp_path / "fp32" / "metrics.json").read_text())
    low = json.loads((tmp_path / "bf16" / "metrics.json").read_text())
    assert ref["dtype"] == "float32" and low["dtype"] == "bfloat16"
    assert (low["asr_seen"], low["asr_ood"], low["false_trigger_rate"]) == (1.0, 1.0, ref["false_trigger_rate"])
    assert low["clean_ppl"] != ref["clean_ppl"]  # really computed in bf16
    assert abs(low["clean_ppl"] - ref["clean_ppl"]) <= PPL_RTOL * ref["clean_ppl"]
    manifest = json.loads((tmp_path / "bf16" / "manifest.json").read_text())
    assert manifest["config"]["dtype"] == "bf16"
    assert "dtype" not in json.loads((tmp_path / "fp32" / "manifest.json").read_text())["config"]  # default: as before
    # The bf16 evaluation is not reused for an fp32 request: the settings differ, so it is refused.
    capsys.readouterr()
    assert main(_argv(saved_model, pack, tmp_path / "bf16")) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusals of a machine without a GPU")
def test_unsupported_dtype_is_one_line(saved_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = write_pack(tmp_path / "pack")
    for flag, message in ((["--model-dtype", "fp16"], "--model-dtype fp16 is not supported on cpu"),
                          (["--load-in-4bit"], "--load-in-4bit needs a CUDA GPU")):  # fmt: skip
        assert main(_argv(saved_model, pack, tmp_path / "o", *flag)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o" / "metrics.json").exists()
