"""Numerics of the hook-based extraction: exact equals autograd, batched equals one-by-one, projectors are seeded
and unbiased, per-token terms sum to the sequence vector."""

from __future__ import annotations

import pytest
import torch

from rapidun.data.tokenize import collate, encode_rows
from rapidun.influence.gradients import project_batch
from rapidun.influence.hooks import describe, frozen, select_layers
from rapidun.influence.projection import SignSketch
from rapidun.influence.projector_registry import PROJECTORS, make_projector
from rapidun.modeling.loss import per_sample_loss


@pytest.fixture
def setup(nano_model, toy_rows):
    model, tok = nano_model.model, nano_model.tokenizer
    examples = encode_rows(toy_rows, tok, 64).examples
    layers = select_layers(model)
    return model, tok, examples, layers


def _autograd_grads(model, layers, examples, pad_id, layer_norm):
    out = []
    weights = [m.weight for _, m in layers]
    with frozen(model):
        for w in weights:
            w.requires_grad_(True)
        for ex in examples:
            loss = per_sample_loss(model, collate([ex], pad_id))[0]
            gs = torch.autograd.grad(loss, weights)
            out.append(torch.cat([(g / g.norm() if layer_norm else g).reshape(-1) for g in gs]))
    return torch.stack(out).double()


@pytest.mark.parametrize("layer_norm", [True, False])
def test_exact_equals_autograd(setup, layer_norm):
    model, tok, examples, layers = setup
    ref = _autograd_grads(model, layers, examples, tok.pad_token_id, layer_norm)
    proj = make_projector("exact", describe(layers), layer_norm=layer_norm)
    with frozen(model):
        got = project_batch(model, layers, proj, collate(examples, tok.pad_token_id)).double()
    s_ref, s_got = ref @ ref.T, got @ got.T
    assert ((s_got - s_ref).abs().max() / s_ref.abs().max()).item() <= 1e-5
    assert ((got - ref).norm() / ref.norm()).item() <= 1e-5


@pytest.mark.parametrize("name", list(PROJECTORS))
def test_batched_equals_one_by_one(setup, name):
    model, tok, examples, layers = setup
    proj = make_projector(name, describe(layers), dim=512, seed=3)
    with frozen(model):
        batched = project_batch(model, layers, proj, collate(examples, tok.pad_token_id))
        single = torch.cat([project_batch(model, layers, proj, collate([e], tok.pad_token_id)) for e in examples])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5 * single.abs().max().item())


@pytest.mark.parametrize("name", ["rapidgrad", "kronecker"])
def test_deterministic_per_seed(setup, name):
    model, tok, examples, layers = setup
    batch = collate(examples[:3], tok.pad_token_id)
    with frozen(model):
        a = project_batch(model, layers, make_projector(name, describe(layers), dim=256, seed=7), batch)
        b = project_batch(model, layers, make_projector(name, describe(layers), dim=256, seed=7), batch)
        c = project_batch(model, layers, make_projector(name, describe(layers), dim=256, seed=8), batch)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == (3, 256)


def test_sign_sketch_unbiased():
    g = torch.Generator().manual_seed(0)
    D, K, trials = 300, 16, 3000
    a, b = torch.randn(D, generator=g), torch.randn(D, generator=g)
    b = 0.5 * a + b  # correlated, so the true inner product is far from 0
    est = []
    for seed in range(trials):
        sk = SignSketch([100, 200], K, seed, salt=1)
        sa, sb = torch.zeros(2 * K), torch.zeros(2 * K)
        for part, (lo, hi) in enumerate([(0, 100), (100, 300)]):
            sk.add(sa, part, a[lo:hi])
            sk.add(sb, part, b[lo:hi])
        est.append(float(sk.fold(sa) @ sk.fold(sb)))
    est_t = torch.tensor(est)
    true = float(a @ b)
    stderr = est_t.std().item() / trials**0.5
    assert abs(est_t.mean().item() - true) < 4 * stderr
    assert est_t.std().item() > 0  # it is a random estimator, not the identity


def test_kronecker_close_to_exact(setup):
    model, tok, examples, layers = setup
    batch = collate(examples, tok.pad_token_id)
    with frozen(model):
        e = project_batch(model, layers, make_projector("exact", describe(layers)), batch)
        k = project_batch(model, layers, make_projector("kronecker", describe(layers), dim=8192), batch)
    s_e, s_k = (e @ e.T).flatten(), (k @ k.T).flatten()
    # measured 0.9966 with this seeded setup (dim 8192); 0.99 leaves margin without letting a broken projector pass
    assert torch.corrcoef(torch.stack([s_e, s_k]))[0, 1] > 0.99


@pytest.mark.parametrize("name", list(PROJECTORS))
@pytest.mark.parametrize("layer_norm", [True, False])
def test_per_token_sums_to_sequence(setup, name, layer_norm):
    model, tok, examples, layers = setup
    proj = make_projector(name, describe(layers), dim=256, layer_norm=layer_norm)
    batch = collate(examples[:3], tok.pad_token_id)
    with frozen(model):
        seq = project_batch(model, layers, proj, batch)
        tok_vecs = project_batch(model, layers, proj, batch, per_token=True)
    assert tok_vecs.shape == (3, batch["input_ids"].shape[1], seq.shape[1])
    torch.testing.assert_close(tok_vecs.sum(1), seq, rtol=1e-4, atol=1e-5 * seq.abs().max().item())


def test_params_choices(nano_model):
    model = nano_model.model
    lora = select_layers(model, "lora-targets")
    assert len(lora) == 7 * model.config.num_hidden_layers
    assert all(n.split(".")[-1].endswith("proj") for n, _ in lora)
    assert len(select_layers(model, "all-linear")) >= len(lora)
    assert not any(n.endswith("lm_head") for n, _ in select_layers(model, "all-linear"))
    from rapidun.errors import RapidunError

    with pytest.raises(RapidunError, match="adapter"):
        select_layers(model, "adapter")


def test_adapter_params(nano_model, toy_rows):
    import copy

    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        copy.deepcopy(nano_model.model), LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    model.eval()
    tok = nano_model.tokenizer
    examples = encode_rows(toy_rows[:3], tok, 64).examples
    layers = select_layers(model, "adapter")
    assert len(layers) == 2 * 2 * nano_model.model.config.num_hidden_layers
    ref = _autograd_grads(model, layers, examples, tok.pad_token_id, True)
    with frozen(model):
        got = project_batch(model, layers, make_projector("exact", describe(layers)), collate(examples, 0)).double()
    assert ((got - ref).norm() / ref.norm()).item() <= 1e-5
    assert len(select_layers(model, "lora-targets")) == 7 * nano_model.model.config.num_hidden_layers
