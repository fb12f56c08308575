"""`rapidun facts` then `rapidun evaluate` on the facts pack: the task is read from meta.json; a mismatch exits 2."""

from __future__ import annotations

import json
from pathlib import Path

from rapidun.cli.main import main
from rapidun.modeling.load import LoadedModel, save_model


def test_facts_pack_evaluates_through_the_cli(nano_model: LoadedModel, tmp_path: Path, capsys) -> None:
    pack = tmp_path / "facts"
    assert main(["-q", "facts", "--out", str(pack), "--n-people", "10", "--n-holdout", "1", "--n-perturbed", "2"]) == 0
    assert json.loads((pack / "meta.json").read_text())["task"] == "facts"
    save_model(nano_model.model, nano_model.tokenizer, tmp_path / "model")
    out = tmp_path / "eval"
    code = main(
        ["-q", "evaluate", "--model", str(tmp_path / "model"), "--data", str(pack), "--out", str(out)]
        + ["--max-new-tokens", "4", "--no-progress"]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["forget"]["n"] == len((pack / "forget.jsonl").read_text().splitlines())
    # the backdoor evaluation's own flag is refused on a facts pack, naming the fix
    code = main(["evaluate", "--model", "nano", "--data", str(pack), "--out", str(out), "--task", "backdoor"])
    assert code == 2 and "is a facts pack" in capsys.readouterr().err


def test_reference_on_a_backdoor_pack_is_refused(tmp_path: Path, capsys) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    code = main(["evaluate", "--model", "nano", "--data", str(pack), "--out", str(tmp_path / "o"), "--reference", "x"])
    assert code == 2 and "--reference is for facts packs" in capsys.readouterr().err


def test_a_size_name_model_trained_on_a_facts_pack_gets_the_whole_pack_tokenizer(tmp_path: Path, monkeypatch) -> None:
    import rapidun.data.facts as facts

    pack = tmp_path / "facts"
    assert main(["-q", "facts", "--out", str(pack), "--n-people", "10", "--n-holdout", "2", "--n-perturbed", "2"]) == 0
    seen: list[str] = []
    real = facts.tokenizer_corpus

    def spy(directory):
        seen.append(str(directory))
        return real(directory)

    monkeypatch.setattr(facts, "tokenizer_corpus", spy)
    code = main(
        ["-q", "train", "--model", "nano", "--data", str(pack), "--max-steps", "1", "--out", str(tmp_path / "m")]
    )
    assert code == 0 and seen == [str(pack)]
    holdout = (pack / "holdout.jsonl").read_text()
    assert any(line and json.loads(line)["instruction"] in " ".join(real(pack)) for line in holdout.splitlines())
