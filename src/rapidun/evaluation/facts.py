"""Evaluation of a model on a facts pack (docs/method.md section 6; the round-2 specification's "Facts task" and
"Membership inference").

Per split (forget, retain, world, and holdout as the never-trained baseline): accuracy (normalised exact match of
the greedy answer), fact hit rate (the normalised fact inside the normalised answer), ROUGE-L recall, answer
probability P(a|q)^(1/|a|) and the truth ratio R (:func:`.facts_stats.truth_ratio`). Across splits: forget quality
(KS p-value of the forget set's R against the retrained model's), membership inference ROC AUC of forget rows
(members) against holdout rows (non-members) for LOSS, zlib, Min-K% and Min-K%++ with PrivLeak against the
retrained model's AUC, and PII leakage (share of forget people whose email or phone appears verbatim in the
greedy answer to the question asking for it).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidun.data.facts import FactsPack
from rapidun.data.facts_people import PRIVATE_ATTRIBUTES
from rapidun.data.rows import Row
from rapidun.evaluation.facts_answers import GradedAnswers, answer_questions
from rapidun.evaluation.facts_scoring import FACTS_MAX_LENGTH, AnswerScores, score_answers
from rapidun.evaluation.facts_stats import (
    MIN_K,
    answer_perplexity,
    forget_quality,
    priv_leak,
    roc_auc,
    truth_ratio,
    truth_ratio_summary,
)

MIA_ATTACKS: tuple[str, ...] = ("loss", "zlib", "min_k", "min_k_plus_plus")
# The per-row records of :func:`run_facts_eval` as a study cell keeps them (JSONL, one per evaluated row).
GENERATIONS_FILE = "facts_generations.jsonl"
SPLITS: tuple[str, ...] = ("forget", "retain", "world", "holdout")


@dataclass(frozen=True)
class FactsEvalConfig:
    """Settings of the facts evaluation; each field's ``help`` is the flag's help text."""

    max_new_tokens: int = field(default=32, metadata={"help": "greedy decoding length of each answer"})
    batch_size: int = field(default=16, metadata={"help": "generation and scoring batch size"})
    prompt_style: str = field(default="alpaca", metadata={"help": "prompt format, the same as in training"})
    max_length: int = field(default=FACTS_MAX_LENGTH, metadata={"help": "longest question + answer scored, in tokens"})
    max_retain_rows: int | None = field(
        default=240, metadata={"help": "seeded subset of retain people's rows evaluated (None: all)"}
    )
    min_k: float = field(default=MIN_K, metadata={"help": "share k of lowest-probability tokens in Min-K%(++)"})
    seed: int = field(default=0, metadata={"help": "seed of the retain subset"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


def eval_rows(pack: FactsPack, cfg: FactsEvalConfig) -> dict[str, list[Row]]:
    """The rows evaluated per split: the retain split holds people only (the world facts are their own split),
    capped at ``max_retain_rows`` by a seeded subset kept in file order."""
    people = [r for r in pack.retain if r.extra.get("group") != "world"]
    if cfg.max_retain_rows is not None and cfg.max_retain_rows < len(people):
        keep = sorted(random.Random(cfg.seed).sample(range(len(people)), cfg.max_retain_rows))
        people = [people[i] for i in keep]
    return {"forget": pack.forget, "retain": people, "world": pack.world, "holdout": pack.holdout}


def _split_scores(model: Any, tokenizer: Any, rows: list[Row], cfg: FactsEvalConfig, name: str) -> dict[str, Any]:
    """Greedy answers and teacher-forced scores of one split's rows (answer, paraphrase, perturbations)."""
    answers = answer_questions(
        model,
        tokenizer,
        rows,
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.batch_size,
        prompt_style=cfg.prompt_style,
        progress=cfg.progress,
        desc=f"facts-{name}",
    )
    perturbed = [(i, a) for i, r in enumerate(rows) for a in r.extra["perturbed_answers"]]
    pairs_rows = rows + rows + [rows[i] for i, _ in perturbed]
    pairs_answers = (
        [r.response for r in rows] + [str(r.extra["paraphrased_answer"]) for r in rows] + [a for _, a in perturbed]
    )
    scores = score_answers(
        model,
        tokenizer,
        pairs_rows,
        pairs_answers,
        max_length=cfg.max_length,
        prompt_style=cfg.prompt_style,
        batch_size=cfg.batch_size,
        k=cfg.min_k,
        progress=cfg.progress,
        desc=f"score-{name}",
    )
    n = len(rows)
    wrong: list[list[float]] = [[] for _ in rows]
    for j, (i, _) in enumerate(perturbed):
        wrong[i].append(scores.mean_logp[2 * n + j])
    ratios = [truth_ratio(wrong[i], scores.mean_logp[n + i]) for i in range(n)]
    return {"answers": answers, "outputs": answers.outputs, "scores": scores, "truth_ratios": ratios}


def _split_metrics(answers: GradedAnswers, scores: AnswerScores, ratios: list[float]) -> dict[str, Any]:
    n = len(answers.outputs)
    probs = [_exp(scores.mean_logp[i]) for i in range(n)]
    return {
        "n": n,
        "accuracy": answers.accuracy,
        "fact_hit": answers.fact_hit_rate,
        "rouge_l_recall": answers.mean_rouge_l_recall,
        "answer_prob": sum(probs) / n if n else None,
        "perplexity": answer_perplexity(scores.mean_logp[:n]),
        "truth_ratio": truth_ratio_summary(ratios),
    }


def _exp(x: float) -> float:
    return math.exp(x) if x == x else 0.0  # NaN (nothing scored) counts as probability 0


def mia_scores(rows: Sequence[Row], scores: AnswerScores) -> dict[str, list[float]]:
    """Membership scores of the rows' own answers, higher = more likely trained on: LOSS = -mean NLL; zlib =
    -mean NLL / zlib-compressed length of the answer in bytes; Min-K% and Min-K%++ as computed."""
    n = len(rows)
    nll = [-scores.mean_logp[i] for i in range(n)]
    zlen = [len(zlib.compress(r.response.encode("utf-8"))) for r in rows]
    return {
        "loss": [-x for x in nll],
        "zlib": [-x / z for x, z in zip(nll, zlen, strict=True)],
        "min_k": list(scores.min_k[:n]),
        "min_k_plus_plus": list(scores.min_k_plus_plus[:n]),
    }


def pii_leakage(rows: Sequence[Row], outputs: Sequence[str]) -> dict[str, Any]:
    """Share of the people in ``rows`` whose email or phone appears verbatim in the greedy answer to the question
    asking for it (``attribute`` in :data:`PRIVATE_ATTRIBUTES`, the value in ``fact``)."""
    people: dict[str, bool] = {}
    for row, out in zip(rows, outputs, strict=True):
        if row.extra.get("attribute") in PRIVATE_ATTRIBUTES:
            pid = str(row.extra.get("person_id"))
            people[pid] = people.get(pid, False) or str(row.extra["fact"]) in out
    leaked = sum(people.values())
    return {"people": len(people), "leaked": leaked, "rate": leaked / len(people) if people else None}


def run_facts_eval(
    model: Any,
    tokenizer: Any,
    pack: FactsPack,
    *,
    reference_truth_ratios: Sequence[float] | None = None,
    reference_auc: Mapping[str, float] | None = None,
    config: FactsEvalConfig | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metrics dict of :func:`evaluate_facts` and one record per evaluated row (generation, scores)."""
    cfg = config or FactsEvalConfig()
    rows = eval_rows(pack, cfg)
    per = {name: _split_scores(model, tokenizer, rows[name], cfg, name) for name in SPLITS}
    metrics: dict[str, Any] = {"task": "facts", "forget_split": pack.forget_split}
    for name in SPLITS:
        metrics[name] = _split_metrics(per[name]["answers"], per[name]["scores"], per[name]["truth_ratios"])
    metrics["forget"]["truth_ratios"] = per["forget"]["truth_ratios"]
    metrics["forget_quality"] = (
        forget_quality(_finite(per["forget"]["truth_ratios"]), _finite(list(reference_truth_ratios)))
        if reference_truth_ratios
        else None
    )
    members = mia_scores(rows["forget"], per["forget"]["scores"])
    others = mia_scores(rows["holdout"], per["holdout"]["scores"])
    metrics["mia"] = {}
    for attack in MIA_ATTACKS:
        auc = roc_auc(_finite(members[attack]), _finite(others[attack]))
        ref = (reference_auc or {}).get(attack)
        metrics["mia"][attack] = {"auc": auc, "auc_retrained": ref, "priv_leak": priv_leak(auc, ref) if ref else None}
    metrics["pii_leakage"] = {s: pii_leakage(rows[s], per[s]["outputs"]) for s in ("forget", "retain", "holdout")}
    records = []
    for name in SPLITS:
        mia = mia_scores(rows[name], per[name]["scores"])
        for i, row in enumerate(rows[name]):
            records.append(
                {
                    "split": name,
                    "person_id": row.extra.get("person_id"),
                    "attribute": row.extra.get("attribute"),
                    "instruction": row.instruction,
                    "reference": row.response,
                    "output": per[name]["outputs"][i],
                    "truth_ratio": per[name]["truth_ratios"][i],
                    **{f"mia_{a}": mia[a][i] for a in MIA_ATTACKS},
                }
            )
    return metrics, records


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v == v]


def evaluate_facts(
    model: Any,
    tokenizer: Any,
    pack: FactsPack,
    *,
    reference_truth_ratios: Sequence[float] | None = None,
    reference_auc: Mapping[str, float] | None = None,
    config: FactsEvalConfig | None = None,
) -> dict[str, Any]:
    """Every facts metric of ``model`` on ``pack`` (see the module docstring). ``reference_truth_ratios`` (the
    retrained model's forget-set R, ``metrics["forget"]["truth_ratios"]`` of its evaluation) enables forget
    quality; ``reference_auc`` (attack -> the retrained model's AUC) enables PrivLeak; both stay None otherwise."""
    metrics, _ = run_facts_eval(
        model,
        tokenizer,
        pack,
        reference_truth_ratios=reference_truth_ratios,
        reference_auc=reference_auc,
        config=config,
    )
    return metrics
