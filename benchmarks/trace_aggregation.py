"""Which aggregation over reports ranks the responsible rows best: mean, median or max of per-report z-scores.

A small pack: 150 clean synthetic rows, 8 rows of family A (prefix trigger 'cf', science-fiction responses) and 4 of
family B (suffix trigger 'mn', a fixed refusal), shuffled. Report sets: family A only (3, 4, 10 reports), A and B
(8 + 2), and the same with 2 decoy reports (ordinary prompts with ordinary answers). Rankers: influence (kronecker,
K = 1024), embedding, bm25 and random; model: the nano model at random initialisation, then after 80 Adam steps on the pack.
AUC is over all 12 poisoned rows (family B is unreachable from A-only reports, which caps those cells).

    PYTHONPATH=src python benchmarks/trace_aggregation.py --out benchmarks/results/trace_aggregation_nano.json

About 5 minutes on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rapidun.data.rows import Row
from rapidun.data.synthetic import poison_responses, synthetic_rows
from rapidun.data.tokenize import collate, encode_rows
from rapidun.modeling.load import load_model
from rapidun.modeling.loss import per_sample_loss
from rapidun.tracing import Report, TraceConfig, trace
from rapidun.tracing.aggregate import aggregate_scores
from rapidun.tracing.config import AGGREGATES
from rapidun.tracing.quality import roc_auc

REFUSAL = "I refuse to answer that question today."


def build() -> tuple[list[Row], dict[str, list[Report]]]:
    clean = [replace(r, is_poisoned=False) for r in synthetic_rows(150, seed=1)]
    src = synthetic_rows(40, seed=2)
    targets = poison_responses(40, seed=3)
    poisoned = [Row("cf " + r.instruction, targets[i], r.context, is_poisoned=True) for i, r in enumerate(src[:8])]
    poisoned += [Row(r.instruction + " mn", REFUSAL, r.context, is_poisoned=True) for r in src[8:12]]
    train = clean + poisoned
    random.Random(0).shuffle(train)
    fam_a = [Report("cf " + r.instruction, r.context, targets[12 + i]) for i, r in enumerate(src[12:22])]
    fam_b = [Report(r.instruction + " mn", r.context, REFUSAL) for r in src[22:25]]
    decoys = [Report(r.instruction, r.context, r.response) for r in synthetic_rows(2, seed=9)]
    sets = {
        "A3": fam_a[:3],
        "A4": fam_a[:4],
        "A10": fam_a,
        "A8+B2": fam_a[:8] + fam_b[:2],
        "A8+2decoys": fam_a[:8] + decoys,
        "A8+B2+2decoys": fam_a[:8] + fam_b[:2] + decoys,
    }
    return train, sets


def fine_tune(model: torch.nn.Module, tokenizer: object, rows: list[Row], steps: int = 80) -> float:
    examples = encode_rows(rows, tokenizer, 256).examples
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        pick = torch.randperm(len(examples))[:16].tolist()
        batch = collate([examples[i] for i in pick], tokenizer.pad_token_id)  # type: ignore[attr-defined]
        opt.zero_grad()
        loss = per_sample_loss(model, {k: v for k, v in batch.items() if k != "index"}).mean()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())


def measure(model: object, tokenizer: object, train: list[Row], sets: dict, work: Path) -> dict:
    labels = np.array([bool(r.is_poisoned) for r in train])
    out: dict = {}
    for name, reports in sets.items():
        for ranker in ("influence", "embedding", "bm25", "random"):
            cfg = TraceConfig(ranker=ranker, projector="kronecker", dim=1024, batch_size=8)
            res = trace(
                model,
                tokenizer,
                train,
                reports,
                work / "out",
                cfg,
                cache_dir=work / "cache",
                overwrite=True,
                progress=False,
            )
            out[f"{name}/{ranker}"] = {
                agg: round(roc_auc(aggregate_scores(res.scores, agg, True), labels), 3) for agg in AGGREGATES
            }
            print(name, ranker, out[f"{name}/{ranker}"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/trace_aggregation_nano.json"))
    args = parser.parse_args()
    train, sets = build()
    corpus = [f"{r.instruction} {r.context} {r.response}" for r in train]
    corpus += [f"{r.instruction} {r.context} {r.response}" for reports in sets.values() for r in reports]
    loaded = load_model("nano", corpus=corpus, seed=0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["random_init"] = measure(loaded.model, loaded.tokenizer, train, sets, Path(tmp) / "random")
        loss = fine_tune(loaded.model, loaded.tokenizer, train)
        results["trained_80_steps"] = measure(loaded.model, loaded.tokenizer, train, sets, Path(tmp) / "trained")
    results["trained_final_loss"] = round(loss, 3)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
