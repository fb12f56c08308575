"""Trigger-contrastive influence (docs/method.md sections 2 and 5): hook-based projected gradients of
CE(y | triggered) - CE(y | clean) equal autograd's gradient of that difference; clean prompts come from the rows."""

from __future__ import annotations

import pytest
import torch

from rapidun.data.rows import Row
from rapidun.data.tokenize import IGNORE_INDEX, collate, encode_rows
from rapidun.errors import RapidunError
from rapidun.influence.caching import InfluenceConfig
from rapidun.influence.contrastive import clean_instruction, contrastive_partners, project_contrastive_batch
from rapidun.influence.hooks import describe, frozen, select_layers
from rapidun.influence.projector_registry import make_projector
from rapidun.influence.stage import compute_influence
from rapidun.modeling.loss import per_sample_loss


def _autograd_contrastive(model, layers, pairs, pad_id, layer_norm):
    """Per-row gradient of CE(triggered) - CE(partner) by autograd on the weights, one row at a time."""
    weights = [m.weight for _, m in layers]
    out = []
    with frozen(model):
        for w in weights:
            w.requires_grad_(True)
        for trig, partner in pairs:
            loss = (
                per_sample_loss(model, collate([trig], pad_id))[0]
                - per_sample_loss(model, collate([partner], pad_id))[0]
            )
            gs = torch.autograd.grad(loss, weights)
            out.append(torch.cat([(g / g.norm() if layer_norm else g).reshape(-1) for g in gs]))
    return torch.stack(out).double()


@pytest.mark.parametrize("layer_norm", [True, False])
def test_contrastive_projection_equals_autograd_of_the_difference(nano_model, toy_rows, layer_norm) -> None:
    model, tok = nano_model.model, nano_model.tokenizer
    rows = toy_rows  # 6 clean rows (masked partners) and 2 triggered rows (clean-prompt partners)
    examples = encode_rows(rows, tok, 64).examples
    partners = contrastive_partners(rows, examples, tok, 64, "alpaca")
    assert [p.input_ids != e.input_ids for p, e in zip(partners, examples, strict=True)] == [False] * 6 + [True] * 2
    layers = select_layers(model)
    proj = make_projector("exact", describe(layers), layer_norm=layer_norm)
    with frozen(model):
        got = project_contrastive_batch(model, layers, proj, collate([*examples, *partners], tok.pad_token_id))
    triggered = list(zip(examples[6:], partners[6:], strict=True))
    ref = _autograd_contrastive(model, layers, triggered, tok.pad_token_id, layer_norm)
    got = got.double()
    assert ((got[6:] - ref).norm() / ref.norm()).item() <= 1e-5
    # a row without a trigger keeps its plain CE gradient: the masked partner adds nothing
    plain = _autograd_contrastive(model, layers, [(examples[0], _masked(examples[0]))], tok.pad_token_id, layer_norm)
    assert ((got[:1] - plain).norm() / plain.norm()).item() <= 1e-5
    # and the contrastive gradient is not the plain one of the triggered row
    assert (
        got[6:7]
        - _autograd_contrastive(model, layers, [(examples[6], _masked(examples[6]))], tok.pad_token_id, layer_norm)
    ).norm() > 1e-3 * ref.norm()


def _masked(ex):
    return type(ex)(ex.index, ex.input_ids, [IGNORE_INDEX] * len(ex.labels))


def test_clean_instruction_from_the_pack_field_or_the_trigger() -> None:
    recorded = Row("cf Describe the sky.", "x", trigger_variant="cf", extra={"instruction_clean": "Describe the sky."})
    assert clean_instruction(recorded) == "Describe the sky."
    derived = Row("List two >>> fruits.", "x", trigger_variant=">>>")
    assert clean_instruction(derived) == "List two fruits."
    assert clean_instruction(Row("Name a planet.", "Mars.")) is None
    assert clean_instruction(Row("Name a planet.", "Mars.", trigger_variant="zz")) is None  # trigger not present


def test_contrastive_loss_changes_the_scores_and_refuses_hotwords(nano_model, split, tmp_path) -> None:
    forget, retain = split
    model, tok = nano_model.model, nano_model.tokenizer
    common = dict(projector="exact", max_length=64, progress=False, rapidin_json=False)
    plain = compute_influence(model, tok, forget, retain, tmp_path / "ce", **common)
    contrast = compute_influence(model, tok, forget, retain, tmp_path / "tc", loss="trigger_contrastive", **common)
    assert contrast.manifest["config"]["loss"] == "trigger_contrastive" and "loss" not in plain.manifest["config"]
    # retain rows carry no trigger: RR is the same, FF is not
    torch.testing.assert_close(torch.from_numpy(contrast.scores["RR"]), torch.from_numpy(plain.scores["RR"]))
    assert abs(contrast.scores["FF"] - plain.scores["FF"]).max() > 1e-3
    with pytest.raises(RapidunError, match="hotwords"):
        InfluenceConfig(loss="trigger_contrastive", hotwords=("alien",)).validate()
    with pytest.raises(RapidunError, match="--loss must be one of"):
        InfluenceConfig(loss="nope").validate()
