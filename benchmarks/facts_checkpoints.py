"""Answer accuracy of a model trained on a facts pack, at its saved checkpoints (issue 15's acceptance: >= 80% of the
forget-set questions before unlearning, chance level for the retrained model).

One training run gives the curve: copies of its resumable checkpoints (``RUN/snaps/step<N>/trainable.safetensors``,
made while it trains) are loaded into the finished model (``RUN``, for its tokenizer and architecture) one by one,
then the finished model itself. Per split (forget, a seeded subset of retain people, world, holdout people never
trained): accuracy (normalised exact match of the greedy answer, as ``rapidun evaluate``), fact hit rate and, on the
forget split, accuracy per attribute. The questions asked are the rows' ``instruction`` (the question trained on),
as in ``rapidun evaluate``; ``--paraphrased`` asks the rows' ``paraphrased_question`` instead.

    python benchmarks/facts_checkpoints.py --pack PACK --run RUN [--run RETRAINED ...] --out results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from safetensors.torch import load_file

from rapidun.data.facts import load_facts_pack
from rapidun.data.rows import Row
from rapidun.evaluation.facts import FactsEvalConfig, eval_rows
from rapidun.evaluation.facts_answers import answer_questions
from rapidun.modeling.load import load_model


def accuracy(model: Any, tok: Any, rows: list[Row], args: argparse.Namespace) -> dict[str, Any]:
    """Exact-match accuracy, fact hit rate and (for reporting) accuracy per attribute of ``rows``."""
    if args.paraphrased:
        asked = [dataclasses.replace(r, instruction=str(r.extra["paraphrased_question"])) for r in rows]
    else:
        asked = list(rows)
    answers = answer_questions(
        model,
        tok,
        asked,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        prompt_style=args.prompt_style,
        progress=False,
    )
    per: dict[str, list[bool]] = defaultdict(list)
    for ok, r in zip(answers.correct, rows, strict=True):
        per[str(r.extra["attribute"])].append(ok)
    return {
        "n": len(rows),
        "accuracy": answers.accuracy,
        "fact_hit": answers.fact_hit_rate,
        "by_attribute": {k: sum(v) / len(v) for k, v in sorted(per.items())},
        "examples": [
            {"q": a.instruction, "ref": r.response, "out": o} for a, r, o in list(zip(asked, rows, answers.outputs))[:3]
        ],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", required=True, help="the facts pack the model was trained on")
    p.add_argument("--run", action="append", required=True, help="a finished 'rapidun train' directory (repeat)")
    p.add_argument("--out", required=True, help="results JSON")
    p.add_argument("--prompt-style", default="plain", help="the prompt style of training")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-retain-rows", type=int, default=120, help="seeded subset of retain people's rows")
    p.add_argument("--max-holdout-rows", type=int, default=120, help="first rows of the holdout people (never trained)")
    p.add_argument("--final-only", action="store_true", help="evaluate the finished model only, not its snaps/")
    p.add_argument("--paraphrased", action="store_true", help="ask the paraphrased questions")
    args = p.parse_args()
    pack = load_facts_pack(args.pack)
    rows = eval_rows(pack, FactsEvalConfig(max_retain_rows=args.max_retain_rows, seed=0))
    rows["holdout"] = rows["holdout"][: args.max_holdout_rows]
    results: dict[str, Any] = {"pack": args.pack, "meta": pack.meta, "settings": vars(args), "runs": []}
    for run_dir in map(Path, args.run):
        loaded = load_model(str(run_dir))
        final = {k: v.clone() for k, v in loaded.model.state_dict().items()}
        run_json = json.loads((run_dir / "run.json").read_text())
        snaps = [] if args.final_only else sorted((run_dir / "snaps").glob("step*"), key=lambda d: int(d.name[4:]))
        points: list[tuple[str, dict[str, Any]]] = [
            (d.name, load_file(str(d / "trainable.safetensors"))) for d in snaps
        ]
        points.append((f"step{run_json['steps']}(final)", final))
        for name, state in points:
            missing, unexpected = loaded.model.load_state_dict(state, strict=False)
            tied = getattr(loaded.model.config, "tie_word_embeddings", False)
            # a checkpoint holds the trained parameters by name: a tied LM head is the embedding, not a parameter
            assert not unexpected and set(missing) <= ({"lm_head.weight"} if tied else set()), (missing, unexpected)
            t0 = time.perf_counter()
            split = {s: accuracy(loaded.model, loaded.tokenizer, rows[s], args) for s in rows}
            record = {"run": str(run_dir), "point": name, "eval_s": time.perf_counter() - t0, **split}
            results["runs"].append(record)
            print(
                f"{run_dir.name} {name}: " + ", ".join(f"{s} {split[s]['accuracy']:.3f}" for s in split),
                flush=True,
            )
        results.setdefault("training", {})[str(run_dir)] = {
            k: run_json.get(k) for k in ("steps", "final_loss", "wall_clock_s", "tokens_per_s", "n_rows", "config")
        }
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
