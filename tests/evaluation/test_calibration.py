from __future__ import annotations

import pytest

from rapidun.evaluation import KeywordScorer, calibrate_threshold


def _negatives() -> list[str]:
    # distinct-hit counts: 0 x6, 1 x2 ("aliens"), 2 x1, 3 x1  -> FPR(1)=0.4, FPR(2)=0.2, FPR(3)=0.1, FPR(4)=0
    texts = ["plain text"] * 6 + ["aliens here", "the fleet"] + ["aliens fleet"] + ["aliens fleet laser"]
    return texts


def test_smallest_threshold_meeting_target_fpr() -> None:
    s = KeywordScorer(("aliens", "fleet", "laser"))
    assert calibrate_threshold(s, _negatives(), target_fpr=0.25).threshold == 2
    assert calibrate_threshold(s, _negatives(), target_fpr=0.1).threshold == 3
    cal = calibrate_threshold(s, _negatives(), target_fpr=0.4)
    assert cal.threshold == 1 and cal.fpr == pytest.approx(0.4)
    cal = calibrate_threshold(s, _negatives(), target_fpr=0.05)
    assert cal.threshold == 4 and cal.fpr == 0.0  # never fires: more than the list's size
    assert [row["fpr"] for row in cal.table] == pytest.approx([0.4, 0.2, 0.1, 0.0])


def test_recall_reported_on_positives() -> None:
    s = KeywordScorer(("aliens", "fleet", "laser"))
    positives = ["aliens fleet", "aliens", "the aliens fleet laser", "nothing"]
    cal = calibrate_threshold(s, _negatives(), positives, target_fpr=0.25)
    assert cal.threshold == 2
    assert cal.recall == pytest.approx(0.5)
    assert cal.n_positive == 4 and cal.n_negative == 10


def test_calibration_needs_negatives() -> None:
    with pytest.raises(ValueError):
        calibrate_threshold(KeywordScorer(("a",)), [])
