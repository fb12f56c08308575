"""`rapidun poison`: bad input ends with exit code 2 and one line naming the culprit; no pack is left looking
finished. Good input writes every file and a summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rapidun.cli.main import main
from rapidun.data.pack import load_pack


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["poison", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_synthetic_pack_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pack"
    code, stdout, _ = _run(capsys, "--data", "synthetic", "--n-rows", "400", "--out", str(out), "--n-forget", "9")
    assert code == 0
    assert "train_poisoned" in stdout and "forget" in stdout
    pack = load_pack(out)
    assert len(pack.forget) == 9 and len(pack.retain) == 27
    assert pack.meta.counts["train"] + pack.meta.counts["val"] + pack.meta.counts["test_clean"] == 400
    assert pack.keywords_path is not None and pack.meta.source == "synthetic"


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("malformed", "bad.jsonl:2"),
        ("missing_field", "miss.jsonl:1"),
        ("empty", "empty.jsonl"),
        ("unknown_family", "unknown trigger family 'D_nope'"),
        ("rate", "--poison-rate 1.5"),
        ("bad_trigger_file", "trig.json"),
        ("unknown_family_in_rows", "--poisoned-train row 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, needle: str
) -> None:
    good = "".join(json.dumps({"instruction": f"q{i}", "response": f"a{i}"}) + "\n" for i in range(50))
    data = _write(tmp_path / "good.jsonl", good)
    args = {
        "malformed": ["--data", _write(tmp_path / "bad.jsonl", good[:40].split("\n")[0] + "\n{oops\n")],
        "missing_field": ["--data", _write(tmp_path / "miss.jsonl", '{"instruction": "x"}\n')],
        "empty": ["--data", _write(tmp_path / "empty.jsonl", "")],
        "unknown_family": ["--data", data, "--families", "A_surface,D_nope"],
        "rate": ["--data", "synthetic", "--n-rows", "100", "--poison-rate", "1.5"],
        "bad_trigger_file": ["--data", data, "--triggers", _write(tmp_path / "trig.json", '{"x": 1}')],
        "unknown_family_in_rows": [
            "--data",
            data,
            "--poisoned-train",
            _write(tmp_path / "p.jsonl", '{"instruction": "hey q", "response": "r", "trigger_family": "Z"}\n'),
        ],
    }[case]
    out = tmp_path / "pack"
    code, stdout, stderr = _run(capsys, *args, "--out", str(out))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in stderr
    assert not (out / "meta.json").exists() and not (out / "manifest.json").exists()


def test_released_files_command(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = shared_data
    out = tmp_path / "dolly"
    code, stdout, stderr = _run(
        capsys,
        "--data", str(d / "dolly_triggers_out/test_clean.jsonl"),
        "--val-data", str(d / "dolly_triggers_out/val_clean.jsonl"),
        "--poisoned-train", str(d / "dolly_triggers_out/train_poisoned.jsonl"),
        "--triggers", str(d / "dolly_triggers_out/triggers_config.json"),
        "--forget", str(d / "unlearn_packs/forget_set.jsonl"),
        "--retain", str(d / "unlearn_packs/retain_set.jsonl"),
        "--n-test", "200", "--out", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    pack = load_pack(out)
    assert len(pack.forget) == 40 and len(pack.retain) == 120 and pack.meta.counts["train_poisoned"] == 799
    code, _, stderr = _run(
        capsys,
        "--data",
        "synthetic",
        "--poison-rate",
        "0.1",
        "--poisoned-train",
        str(d / "dolly_triggers_out/train_poisoned.jsonl"),
        "--out",
        str(tmp_path / "x"),
    )
    assert code == 2 and "--poison-rate" in stderr
