"""Facts statistics against hand-computed values: truth ratio, KS forget quality, ROC AUC, Min-K%(++), PrivLeak."""

from __future__ import annotations

import math

import pytest
import torch

from rapidun.evaluation.facts_stats import (
    answer_perplexity,
    exact_match,
    forget_quality,
    min_k_plus_plus_score,
    min_k_score,
    normalise_answer,
    priv_leak,
    roc_auc,
    roc_points,
    rouge_l_recall,
    truth_ratio,
    truth_ratio_summary,
)


def test_truth_ratio_is_geometric_mean_of_perturbed_over_paraphrased() -> None:
    # P(a'_1)^(1/|a'_1|) = e^-1, P(a'_2)^(1/|a'_2|) = e^-3 -> geometric mean e^-2; P(a~)^(1/|a~|) = e^-1.5.
    assert truth_ratio([-1.0, -3.0], -1.5) == pytest.approx(math.exp(-0.5))
    # One perturbed answer as likely as the paraphrase: R = 1 (the model cannot tell them apart).
    assert truth_ratio([-2.0], -2.0) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        truth_ratio([], -1.0)


def test_truth_ratio_summary_hand_values() -> None:
    summary = truth_ratio_summary([0.5, 2.0])
    assert summary["mean"] == pytest.approx(1.25)
    assert summary["closer_to_one"] == pytest.approx(0.5)  # min(0.5, 2) and min(2, 0.5)
    assert summary["true_better"] == pytest.approx(0.25)  # max(0, 0.5) and max(0, -1) -> 0
    assert truth_ratio_summary([])["mean"] is None


def test_forget_quality_is_the_exact_ks_p_value() -> None:
    # Fully separated samples of 3 and 3: D = 1, and only 2 of the C(6,3) = 20 orderings reach it -> p = 0.1.
    assert forget_quality([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(0.1)
    # The same sample: D = 0 -> p = 1.
    assert forget_quality([0.2, 0.5, 0.9], [0.2, 0.5, 0.9]) == pytest.approx(1.0)


def test_roc_auc_identical_separable_and_hand_values() -> None:
    same = [0.1, 0.4, 0.4, 0.7, 0.9]
    assert roc_auc(same, list(same)) == pytest.approx(0.5)
    assert roc_auc([5.0, 6.0, 7.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert roc_auc([1.0, 2.0], [5.0, 6.0, 7.0]) == pytest.approx(0.0)
    # Pairs (0.8>0.6), (0.8>0.2), (0.4<0.6), (0.4>0.2): 3 of 4.
    assert roc_auc([0.8, 0.4], [0.6, 0.2]) == pytest.approx(0.75)
    assert roc_auc([1.0], [1.0]) == pytest.approx(0.5)  # a tie counts one half
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def test_priv_leak_hand_value() -> None:
    assert priv_leak(0.6, 0.5) == pytest.approx(0.2)
    assert priv_leak(0.4, 0.5) == pytest.approx(-0.2)


def test_min_k_takes_the_lowest_share_of_token_log_probs() -> None:
    logp = torch.tensor([-0.1, -5.0, -0.2, -3.0, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8])
    assert min_k_score(logp, 0.2) == pytest.approx(-4.0)  # ceil(0.2 * 10) = 2 lowest: -5, -3
    assert min_k_score(logp, 0.01) == pytest.approx(-5.0)  # at least one token
    assert min_k_score(logp, 1.0) == pytest.approx(float(logp.double().mean()))


def test_min_k_plus_plus_on_hand_made_logits() -> None:
    # Next-token distribution (1/2, 1/4, 1/4) at both positions: log p = -ln2 * (1, 2, 2), so
    # mu = -1.5 ln2 and sigma = 0.5 ln2; the most likely token has z = +1, the others z = -1.
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])) + 3.0  # any shift: same softmax
    log_probs = torch.log_softmax(logits, dim=-1)
    tokens = torch.tensor([0, 1])
    token_logp = log_probs[torch.arange(2), tokens]
    assert min_k_plus_plus_score(token_logp, log_probs, 0.5) == pytest.approx(-1.0, rel=1e-5)
    assert min_k_plus_plus_score(token_logp, log_probs, 1.0) == pytest.approx(0.0, abs=1e-6)
    # Min-K% on the same tokens: the lowest of (-ln2, -2 ln2).
    assert min_k_score(token_logp, 0.5) == pytest.approx(-2 * math.log(2))


def test_answer_normalisation_and_rouge() -> None:
    assert normalise_answer("The capital of  France is Paris!") == "capital of france is paris"
    assert exact_match("the capital of France is Paris\nand more", "The capital of France is Paris.")
    assert not exact_match("The capital of France is Rome.", "The capital of France is Paris.")
    # LCS "the cat sat" = 3 of the reference's 6 tokens.
    assert rouge_l_recall("the cat sat", "the cat sat on the mat") == pytest.approx(0.5)
    assert rouge_l_recall("", "the cat") == pytest.approx(0.0)


def test_roc_points_hand_values_and_area() -> None:
    members, others = [0.8, 0.4], [0.6, 0.2]
    points = roc_points(members, others)
    assert points == [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:]))
    assert area == pytest.approx(roc_auc(members, others))  # trapezoids under the curve = the rank AUC (0.75)


def test_answer_perplexity_is_exp_of_the_mean_per_row_negative_log_likelihood() -> None:
    # Rows with mean log-probabilities -1 and -3 per token: mean NLL 2 -> perplexity e^2; a NaN row is left out.
    assert answer_perplexity([-1.0, -3.0, float("nan")]) == pytest.approx(math.exp(2.0))
    assert answer_perplexity([0.0]) == pytest.approx(1.0)  # every answer token certain
    assert answer_perplexity([float("nan")]) is None
