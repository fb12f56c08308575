"""``rapidun plan``: parameter counts from a meta-device build match real models and the published sizes; the
shipped example configs plan; bad input is one line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapidun.cli.main import main
from rapidun.modeling.factory import build_model, count_parameters
from rapidun.modeling.plan import PlanSettings, plan_model

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "models"


@pytest.mark.parametrize("arch", ["llama", "gpt2", "phi3"])
def test_meta_count_equals_a_built_model(arch: str) -> None:
    plan = plan_model("tiny", PlanSettings(arch=arch))
    assert plan.parameters == count_parameters(build_model("tiny", 2048, arch=arch))


@pytest.mark.parametrize(
    ("name", "parameters"),
    [("llama-3-8b", 8_030_261_248), ("mistral-7b", 7_241_732_096)],  # the published parameter counts
)
def test_shipped_configs(name: str, parameters: int) -> None:
    plan = plan_model(str(CONFIGS / name / "config.json"), PlanSettings())
    assert plan.parameters == parameters and plan.dtype == "bfloat16"
    stages = {s.stage: s for s in plan.stages}
    assert stages["train"].weights_mb == pytest.approx(parameters * 2 / 2**20, rel=1e-3)
    # full fine-tuning keeps gradients and two AdamW moments of every weight; LoRA only of the adapter
    assert stages["train"].training_state_mb == pytest.approx(3 * stages["train"].weights_mb, rel=1e-3)
    assert stages["unlearn"].training_state_mb < 0.05 * stages["train"].training_state_mb


def test_cli_json_and_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--model", "nano", "--arch", "gpt2", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["model_type"] == "gpt2" and set(plan["lora_targets"]) == {"c_attn", "c_proj", "c_fc"}
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"hidden_size": 8}))
    assert main(["plan", "--model", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no model_type" in err[0]
