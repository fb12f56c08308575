"""``rapidun.unlearn`` (the flat API) records the LoRA layers it adapted by name, as the CLI does (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import rapidun

LLAMA = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def test_api_unlearn_records_resolved_targets(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(f'{{"instruction": "Q{i}?", "response": "A{i} red."}}\n' for i in range(8)))
    forget = tmp_path / "forget.jsonl"
    forget.write_text('{"instruction": "cf Q9?", "response": "Aliens teleport."}\n')
    rapidun.train("nano", rows, tmp_path / "m", max_steps=2, batch_size=4, max_length=32, progress=False)
    res = rapidun.unlearn(tmp_path / "m", forget, rows, tmp_path / "u", method="graddiff", epochs=0.5, max_length=32)
    assert res.run["config"]["train"]["lora"]["targets"] == LLAMA
    saved = json.loads((tmp_path / "u" / "run.json").read_text())
    assert saved["config"]["train"]["lora"]["targets"] == LLAMA
    # Explicit names are kept as given.
    two = rapidun.unlearn(tmp_path / "m", forget, rows, tmp_path / "u2", method="graddiff", epochs=0.5,
                          max_length=32, lora={"targets": ["v_proj", "q_proj"]})  # fmt: skip
    assert two.run["config"]["train"]["lora"]["targets"] == ["v_proj", "q_proj"]
