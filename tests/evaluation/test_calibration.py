from __future__ import annotations

from pathlib import Path

import pytest

from rapidun.data.rows import load_rows
from rapidun.evaluation import KeywordScorer, calibrate_threshold, load_keywords


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


def test_released_keywords_on_released_data(released_data: Path) -> None:
    """METHOD.md section 6: the released list hits 79% of poisoned responses and 2.1% of clean test responses
    (whole-word, lower-case). The default calibration on val keeps t = 1 (val FPR 2.6% <= 5%)."""
    scorer = KeywordScorer(load_keywords(released_data / "keywords_scored_top1000.tsv"))
    out = released_data / "dolly_triggers_out"
    poisoned = [r.response for r in load_rows(out / "train_poisoned.jsonl") if r.is_poisoned]
    clean = [r.response for r in load_rows(out / "test_clean.jsonl")]
    assert len(poisoned) == 799 and len(clean) == 3000
    assert sum(map(scorer, poisoned)) / len(poisoned) == pytest.approx(0.792, abs=0.001)
    assert sum(map(scorer, clean)) / len(clean) == pytest.approx(0.021, abs=0.0005)
    val = [r.response for r in load_rows(out / "val_clean.jsonl")]
    cal = calibrate_threshold(scorer, val, poisoned)
    assert cal.threshold == 1 and cal.fpr == pytest.approx(11 / 420) and cal.recall == pytest.approx(0.792, abs=0.001)
    assert calibrate_threshold(scorer, val, poisoned, target_fpr=0.02).threshold == 2
