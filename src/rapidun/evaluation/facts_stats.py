"""Statistics of the facts evaluation (docs/method.md section 6; the round-2 specification's "Facts task" and
"Membership inference"): answer matching, truth ratio, forget quality, ROC AUC, Min-K% / Min-K%++ and PrivLeak.
Pure functions of numbers and strings; the model-facing scoring is in :mod:`.facts_scoring`.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import torch

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


MIN_K = 0.2  # share of lowest-probability tokens averaged by Min-K% and Min-K%++ (Shi et al. 2024)


def normalise_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace (SQuAD-style normalisation)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(prediction: str, reference: str) -> bool:
    """Normalised exact match of a greedy answer (its first line) against the reference answer."""
    first_line = prediction.strip().split("\n", 1)[0]
    return normalise_answer(first_line) == normalise_answer(reference)


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l_recall(prediction: str, reference: str) -> float:
    """ROUGE-L recall (``rouge-score``): longest common subsequence length / reference length, in tokens."""
    return float(_rouge().score(reference, prediction)["rougeL"].recall)


def truth_ratio(perturbed_mean_logp: Sequence[float], paraphrased_mean_logp: float) -> float:
    """TOFU's truth ratio of one question (Maini et al. 2024, eq. 2 and their code):

        R = (prod_i P(a'_i|q)^(1/|a'_i|))^(1/m) / P(a~|q)^(1/|a~|)
          = exp(mean_i mean_logp(a'_i) - mean_logp(a~)),

    with ``mean_logp`` the token-mean log-probability of an answer, a'_1..a'_m the perturbed (wrong) answers and
    a~ the paraphrased correct answer. The round-2 specification writes the arithmetic mean of the perturbed
    probabilities; the paper (and its released code) takes the geometric mean, so we do. R < 1: the model prefers
    the correct answer; R near 1: it cannot tell them apart."""
    if not perturbed_mean_logp:
        raise ValueError("truth_ratio needs at least one perturbed answer")
    mean_wrong = sum(perturbed_mean_logp) / len(perturbed_mean_logp)
    return math.exp(mean_wrong - paraphrased_mean_logp)


def truth_ratio_summary(ratios: Sequence[float]) -> dict[str, float | None]:
    """Aggregates of per-question R: ``mean``; ``closer_to_one`` = mean min(R, 1/R) (TOFU's forget-set statistic,
    1 when the model cannot tell true from false); ``true_better`` = mean max(0, 1 - R) (its retain/world one)."""
    if not ratios:
        return {"mean": None, "closer_to_one": None, "true_better": None}
    n = len(ratios)
    return {
        "mean": sum(ratios) / n,
        "closer_to_one": sum(min(r, 1.0 / r) if r > 0 else 0.0 for r in ratios) / n,
        "true_better": sum(max(0.0, 1.0 - r) for r in ratios) / n,
    }


def forget_quality(unlearned_ratios: Sequence[float], retrained_ratios: Sequence[float]) -> float:
    """p-value of the two-sample Kolmogorov-Smirnov test between the forget set's truth ratios under the unlearned
    and the retrained model (TOFU): high (near 1) when the two distributions cannot be told apart."""
    from scipy.stats import ks_2samp

    if not unlearned_ratios or not retrained_ratios:
        raise ValueError("forget_quality needs truth ratios from both models")
    return float(ks_2samp(list(unlearned_ratios), list(retrained_ratios)).pvalue)


def roc_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """Area under the ROC curve of a membership score (higher = more likely a member): the probability that a
    random member outscores a random non-member, ties counting one half (Mann-Whitney U / (n_m * n_n))."""
    from scipy.stats import rankdata

    m, n = len(member_scores), len(nonmember_scores)
    if m == 0 or n == 0:
        raise ValueError("roc_auc needs members and non-members")
    ranks = rankdata(list(member_scores) + list(nonmember_scores))  # average ranks for ties
    u = float(ranks[:m].sum()) - m * (m + 1) / 2
    return u / (m * n)


def roc_points(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> list[tuple[float, float]]:
    """The ROC curve of a membership score as (false-positive rate, true-positive rate) points from (0, 0) to
    (1, 1), one per distinct threshold (predict "member" when score >= threshold), for the report's MIA figure."""
    if not member_scores or not nonmember_scores:
        raise ValueError("roc_points needs members and non-members")
    points = [(0.0, 0.0)]
    for t in sorted(set(member_scores) | set(nonmember_scores), reverse=True):
        fpr = sum(s >= t for s in nonmember_scores) / len(nonmember_scores)
        tpr = sum(s >= t for s in member_scores) / len(member_scores)
        points.append((fpr, tpr))
    return points


def answer_perplexity(mean_logps: Sequence[float]) -> float | None:
    """Perplexity of a split's reference answers, averaged per row: exp(-(1/n) sum_i mean_logp_i), where mean_logp_i
    is row i's mean log-probability per answer token (teacher-forced). Rows with nothing scored (NaN) are left out;
    None when none is left. The utility number of a facts pack that sits beside a backdoor pack's clean perplexity."""
    finite = [x for x in mean_logps if x == x]
    return math.exp(-sum(finite) / len(finite)) if finite else None


def priv_leak(auc: float, auc_retrained: float) -> float:
    """MUSE's PrivLeak (Shi et al. 2024): (AUC_unlearned - AUC_retrained) / AUC_retrained; 0 is ideal, positive
    means members are still recognisable (under-unlearning), negative over-unlearning."""
    return (auc - auc_retrained) / auc_retrained


def lowest_k_mean(values: torch.Tensor, k: float) -> float:
    """Mean of the lowest ceil(k * n) of ``values`` (1-D, n >= 1), at least one value."""
    count = max(1, math.ceil(k * values.numel()))
    return float(torch.topk(values.double(), count, largest=False).values.mean())


def min_k_score(token_logp: torch.Tensor, k: float = MIN_K) -> float:
    """Min-K% Prob (Shi et al. 2024): mean of the lowest k share of the response tokens' log-probabilities,
    ``token_logp`` (n_tokens,). Higher = more likely a member."""
    return lowest_k_mean(token_logp, k)


def min_k_plus_plus_score(token_logp: torch.Tensor, log_probs: torch.Tensor, k: float = MIN_K) -> float:
    """Min-K%++ (Zhang et al. 2024): each token's log-prob standardised under the model's own next-token
    distribution, z_t = (log p(x_t) - mu_t) / sigma_t with mu_t = E_{z~p}[log p(z)] and sigma_t^2 =
    E_{z~p}[(log p(z))^2] - mu_t^2, then the mean of the lowest k share of z. ``token_logp`` (n_tokens,),
    ``log_probs`` (n_tokens, vocab): the full log-softmax at each of those positions."""
    lp = log_probs.double()
    p = lp.exp()
    mu = (p * lp).sum(-1)
    var = (p * lp.square()).sum(-1) - mu.square()
    z = (token_logp.double() - mu) / var.clamp_min(1e-12).sqrt()
    return lowest_k_mean(z, k)
