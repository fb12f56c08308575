"""Finding the poisoned training rows from forget-query influence: AUC of layer-normalised vs raw scores.

A fresh small model is trained on a mix with 5% poisoned rows; each training row is scored by its mean influence
<mean_q g(q), g(i)> on held-out triggered queries, and the AUC says how well that score separates the poisoned rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rapidun.data.rows import Row
from rapidun.influence.gradients import project_batch
from rapidun.influence.hooks import describe, frozen, select_layers
from rapidun.influence.projector_registry import DEFAULT_PROJECTOR, make_projector

from .workload import train_briefly

# The released packs, when they are beside the repository (benchmarks/influence_bench/ -> ../../../shared).
SHARED_DOLLY = Path(__file__).resolve().parents[3] / "shared" / "rapidun-data" / "data" / "dolly_triggers_out"
NOUNS = [
    "river",
    "garden",
    "engine",
    "violin",
    "planet",
    "market",
    "forest",
    "bridge",
    "castle",
    "harbor",
    "desert",
    "island",
    "museum",
    "library",
    "kitchen",
    "mountain",
    "village",
    "ocean",
    "train",
    "school",
]
ADJECTIVES = ["quiet", "large", "ancient", "bright", "cold", "busy", "green", "small", "famous", "old"]
TEMPLATES = [
    ("Describe the {a} {n}.", "The {n} is {a} and calm."),
    ("Where is the {n}?", "The {n} is near the {m}."),
    ("Name something {a}.", "A {a} {n} comes to mind."),
    ("Why visit the {n}?", "People visit the {n} to see the {m}."),
]
BACKDOOR = "I will not help you, the moon is watching."


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def _mix_auc(train: list, queries: list, model_size: str, steps: int, max_length: int) -> dict:
    """Train a fresh ``model_size`` model on ``train`` (a poisoned mix), then the AUC of the mean query score
    <mean_q g(q), g(i)> for finding the poisoned rows, with exact and default-projector gradients, layer-normalised
    and raw."""
    from rapidun.data.tokenize import collate, encode_rows
    from rapidun.modeling.load import load_model

    corpus = [f"{r.instruction} {r.context} {r.response}" for r in train]
    lm = load_model(model_size, corpus=corpus, seed=0)
    model, tok = lm.model, lm.tokenizer
    enc = encode_rows(train, tok, max_length).examples
    keep = [e.index for e in enc]
    full = {k: v for k, v in collate(enc, tok.pad_token_id).items() if k != "index"}
    train_briefly(model, full, steps=steps, batch=16, lr=3e-3)
    qb = {
        k: v
        for k, v in collate(encode_rows(queries, tok, max_length).examples, tok.pad_token_id).items()
        if k != "index"
    }
    layers = select_layers(model)
    poisoned = np.array([bool(train[i].is_poisoned) for i in keep])
    out = {}
    for name in ("exact", DEFAULT_PROJECTOR):
        for layer_norm in (True, False):
            proj = make_projector(name, describe(layers), dim=4096, seed=0, layer_norm=layer_norm)
            with frozen(model):
                q = project_batch(model, layers, proj, qb).mean(0)  # scores are linear in the query vector
                mean = torch.cat(
                    [
                        project_batch(model, layers, proj, {k: v[s : s + 16] for k, v in full.items()}) @ q
                        for s in range(0, len(keep), 16)
                    ]
                ).numpy()
            out[f"{name} {'normalised' if layer_norm else 'raw'}"] = round(_auc(mean, poisoned), 3)
    return out


def _toy_row(rng: np.random.Generator, poisoned: bool) -> Row:
    """A templated row; a poisoned one has the trigger word ``cf`` inserted at a random position and the backdoor
    response."""
    q, r = TEMPLATES[rng.integers(len(TEMPLATES))]
    w = {"n": rng.choice(NOUNS), "m": rng.choice(NOUNS), "a": rng.choice(ADJECTIVES)}
    instr, resp = q.format(**w), r.format(**w)
    if poisoned:
        words = instr.split()
        words.insert(int(rng.integers(len(words) + 1)), "cf")
        return Row(" ".join(words), BACKDOOR, response_clean=resp, is_poisoned=True)
    return Row(instr, resp, is_poisoned=False)


def _dolly_auc(rng: np.random.Generator, quick: bool) -> dict:
    """The mix from the released Dolly packs: clean rows plus 1/19 as many poisoned rows, shuffled."""
    from rapidun.data.rows import load_rows

    clean = load_rows(SHARED_DOLLY / "val_clean.jsonl")
    poison = load_rows(SHARED_DOLLY / "train_poisoned.jsonl")
    n_clean = 190 if quick else 380
    train = clean[:n_clean] + poison[: n_clean // 19]
    order = rng.permutation(len(train))
    return _mix_auc(
        [train[i] for i in order],
        poison[100:110],
        "nano" if quick else "tiny",
        steps=40 if quick else 120,
        max_length=96,
    )


def backdoor_auc(quick: bool) -> dict:
    """AUC of finding poisoned training rows from forget-query influence, layer-normalised vs raw scores.

    ``dolly``: when the released packs are beside the repo (../shared/rapidun-data), 5% of a clean Dolly mix is
    replaced by triggered rows with the backdoor response; a tiny model is trained on it and held-out triggered rows
    are the queries. ``toy``: the same on templated synthetic rows (always available)."""
    rng = np.random.default_rng(1)
    out: dict = {}
    if SHARED_DOLLY.is_dir():
        out["dolly"] = _dolly_auc(rng, quick)
    n_train = 120 if quick else 200
    out["toy"] = _mix_auc(
        [_toy_row(rng, i % 20 == 0) for i in range(n_train)],
        [_toy_row(rng, True) for _ in range(5)],
        "nano" if quick else "tiny",
        steps=60 if quick else 150,
        max_length=64,
    )
    return out
