"""Aggregation over reports and the forget / retain cut, on hand-made score matrices."""

from __future__ import annotations

import numpy as np
import pytest

from rapidun.errors import RapidunError
from rapidun.tracing.aggregate import aggregate_scores, normalise_reports, outlier_count, split_forget_retain


def test_normalisation_stops_one_loud_report_from_deciding():
    # Report 0 points at row 0, reports 1 and 2 at row 1; report 0's scores are 100 times larger.
    scores = np.array([[200.0, 0.0, 100.0, 100.0], [0.0, 3.0, 1.0, 1.0], [0.0, 3.0, 1.0, 1.0]])
    assert int(np.argmax(aggregate_scores(scores, "mean", normalize=False))) == 0
    assert int(np.argmax(aggregate_scores(scores, "mean", normalize=True))) == 1
    z = normalise_reports(scores)
    np.testing.assert_allclose(z[0], [np.sqrt(2), -np.sqrt(2), 0, 0])  # mean 100, std sqrt(5000)
    np.testing.assert_allclose(normalise_reports(np.ones((1, 3))), np.zeros((1, 3)))


def test_mean_keeps_a_minority_family_that_median_drops():
    # Rows 0-1 are behind reports 0-2 (family A), row 2 behind report 3 only (family B), rows 3-9 behind nothing.
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 0.1, size=(4, 10))
    scores[:3, :2] += 3.0
    scores[3, 2] += 3.0
    mean = aggregate_scores(scores, "mean")
    median = aggregate_scores(scores, "median")
    assert set(np.argsort(-mean)[:3]) == {0, 1, 2}
    assert 2 not in set(np.argsort(-median)[:3])
    assert set(np.argsort(-aggregate_scores(scores, "max"))[:3]) == {0, 1, 2}
    with pytest.raises(RapidunError, match="--aggregate"):
        aggregate_scores(scores, "sum")


def test_robust_cut_off_finds_the_outliers():
    bulk = np.linspace(-1.0, 1.0, 97)  # median 0, MAD 0.5 -> robust sigma 0.7413
    scores = np.concatenate([bulk, [5.0, 4.0, 3.0]])  # z = 6.7, 5.4, 4.0: all above 3.5
    assert outlier_count(scores, 3.5, 0.25) == 3
    assert outlier_count(scores, 3.5, 0.02) == 2  # capped at 2% of 100 rows
    assert outlier_count(bulk, 3.5, 0.25) == 1  # nothing stands out: still propose the top row
    assert outlier_count(np.zeros(10), 3.5, 0.25) == 1


def test_split_sizes_and_order():
    scores = np.array([0.5, 9.0, 0.1, 7.0, 0.3, 0.2, 0.4, 0.0])
    forget, retain, rule = split_forget_retain(scores, 2, 3.5, 0.25, 3)
    assert forget.tolist() == [1, 3] and retain.tolist() == [7, 2, 5, 4, 6, 0][:6] and rule == "top-2"
    forget, retain, _ = split_forget_retain(scores, 3, 3.5, 0.25, 3)
    assert forget.tolist() == [1, 3, 0] and retain.tolist() == [7, 2, 5, 4, 6]  # fewer than 9 left: all the rest
    with pytest.raises(RapidunError, match="--k 9 is larger than the training set"):
        split_forget_retain(scores, 9, 3.5, 0.25, 3)


def test_quality_measures_on_a_hand_made_ranking():
    from rapidun.data.rows import Row
    from rapidun.tracing.quality import precision_recall_at, ranking_quality, roc_auc

    labels = np.array([True, False, True, False, False])
    scores = np.array([0.9, 0.8, 0.1, 0.1, 0.0])
    # Pairs (poisoned, clean): 0.9 beats all 3; 0.1 loses to 0.8, ties 0.1, beats 0.0 -> (3 + 0 + 0.5 + 1) / 6.
    assert roc_auc(scores, labels) == pytest.approx(4.5 / 6)
    order = np.array([0, 1, 2, 3, 4])
    assert precision_recall_at(order, labels, 2) == (0.5, 0.5)
    assert precision_recall_at(order, labels, 3) == (2 / 3, 1.0)
    rows = [Row(f"q{i}", "a", is_poisoned=bool(x)) for i, x in enumerate(labels)]
    q = ranking_quality(rows, scores, order, 1)
    assert q["at_n_poisoned"] == {"k": 2, "precision": 0.5, "recall": 0.5}
    assert q["at_forget"] == {"k": 1, "precision": 1.0, "recall": 0.5}
    assert ranking_quality([Row("q", "a"), *rows[1:]], scores, order, 1) == {}  # a row without a label


def test_random_low_half_retain_is_seeded_and_below_the_median():
    rng = np.random.default_rng(3)
    aggregated = rng.normal(size=200)
    median = np.median(aggregated)
    forget, retain, rule = split_forget_retain(aggregated, 10, 3.5, 0.25, 3, retain_pick="random_low_half", seed=7)
    assert len(retain) == 30 and len(set(retain.tolist())) == 30 and "lower half" in rule
    assert (aggregated[retain] < median).all()
    assert (np.diff(aggregated[retain]) >= 0).all()  # lowest first, as the 'lowest' proposal is
    lowest = np.argsort(aggregated)[:30]
    assert set(retain.tolist()) != set(lowest.tolist())  # a sample of the half, not its tail
    again = split_forget_retain(aggregated, 10, 3.5, 0.25, 3, retain_pick="random_low_half", seed=7)[1]
    other = split_forget_retain(aggregated, 10, 3.5, 0.25, 3, retain_pick="random_low_half", seed=8)[1]
    assert again.tolist() == retain.tolist() and other.tolist() != retain.tolist()
    # more wanted than the lower half holds: all of it
    _, everything, _ = split_forget_retain(aggregated, 40, 3.5, 0.25, 3, retain_pick="random_low_half")
    assert sorted(everything.tolist()) == sorted(np.argsort(aggregated)[:100].tolist())
