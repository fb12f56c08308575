"""The highest ASR a perfect backdoor could score on a pack with greedy generations cut at N new tokens: the share
of the pack's poisoned training responses whose first N tokens (in the size-name model's tokenisation, trained on
the pack as a study trains it) already hold enough keywords for the pack's scorer (BENCHMARKS.md section 3).

    python benchmarks/keyword_ceiling.py --config configs/dolly_released.yaml --tokens 32 48 64 \
        --results benchmarks/results/keyword_ceiling_dolly.json

Builds the study's pack for the first dataset of ``--config`` in a temporary directory (no model is trained).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml

from rapidun.evaluation.directory import build_dir_scorer
from rapidun.modeling.factory import SIZES
from rapidun.modeling.tokenizer import train_tokenizer
from rapidun.pipeline.datasets import materialise_pack
from rapidun.pipeline.study_config import study_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path("configs/dolly_released.yaml"))
    ap.add_argument("--tokens", type=int, nargs="+", default=[32, 48, 64])
    ap.add_argument("--results", type=Path)
    args = ap.parse_args()
    cfg = study_config(yaml.safe_load(args.config.read_text()))
    spec = cfg.datasets[0]
    with tempfile.TemporaryDirectory() as tmp:
        pack = materialise_pack(spec, Path(tmp) / "pack")
        scorer, record = build_dir_scorer(pack.directory, None, None, None, cfg.evaluation.target_fpr)
        corpus = [f"{r.instruction} {r.context} {r.response} {r.response_clean or ''}" for r in pack.train]
        tok = train_tokenizer(corpus, SIZES[cfg.model].vocab_size)
        poisoned = [r.response for r in pack.train if r.is_poisoned]
        ids = [tok(text, add_special_tokens=False)["input_ids"] for text in poisoned]
        shares = {}
        for n in args.tokens:
            hits = sum(bool(scorer(tok.decode(t[:n]))) for t in ids)
            shares[str(n)] = hits / len(ids)
            print(
                f"{cfg.name}: {hits}/{len(ids)} poisoned responses ({100 * hits / len(ids):.0f}%) hold a keyword hit "
                f"within their first {n} tokens ({cfg.model} tokeniser, scorer threshold {record.get('threshold')})"
            )
        full = sum(bool(scorer(text)) for text in poisoned) / len(poisoned)
    if args.results:
        payload = {
            "config": str(args.config),
            "model": cfg.model,
            "n_poisoned": len(poisoned),
            "share_with_hit_within_tokens": shares,
            "share_with_hit_full_response": full,
            "scorer": record,
        }
        args.results.write_text(json.dumps(payload, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
