"""The bm25 ranker on a hand-made 5-row example whose order follows from the BM25 formula alone."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rapidun.costs import CostLedger
from rapidun.data.rows import Row
from rapidun.tracing import TraceConfig
from rapidun.tracing.ranker_registry import RankInputs
from rapidun.tracing.rankers import bm25

# Query "zebra lion". 'zebra' is in 2 of 5 rows, 'lion' in 3: zebra is rarer, so idf(zebra) > idf(lion) > 0.
# Rows 0, 2, 3, 4 have 4 words, row 1 has 6 (longer than average, so a match there counts less).
ROWS = [
    Row("alpha beta", "gamma delta"),  # no query word                    -> 0
    Row("lion epsilon", "zeta eta theta iota"),  # lion, long row          -> idf(lion) * tf-part(6 words)
    Row("zebra lion", "kappa mu"),  # both words                           -> idf(zebra) + idf(lion), 4 words
    Row("lion nu", "xi omicron"),  # lion, 4 words                         -> idf(lion) * tf-part(4 words)
    Row("zebra pi", "rho sigma"),  # zebra, 4 words                        -> idf(zebra) * tf-part(4 words)
]
# Hence, best first: row 2, row 4, row 3, row 1, row 0.
EXPECTED_ORDER = [2, 4, 3, 1, 0]


def _scores(rows: list[Row], report: Row) -> np.ndarray:
    inputs = RankInputs(None, None, rows, [report], TraceConfig(ranker="bm25"), Path("."), Path("."), CostLedger())
    return bm25.score(inputs)[0]


def test_bm25_order_on_five_rows():
    s = _scores(ROWS, Row("Zebra, lion?", ""))
    assert np.argsort(-s, kind="stable").tolist() == EXPECTED_ORDER
    # One value from the formula: row 4, tf = 1, |d| = 4, avgdl = 22 / 5, N = 5, n(zebra) = 2.
    idf = math.log(1 + (5 - 2 + 0.5) / (2 + 0.5))
    tf_part = 1 / (1 + 1.5 * (1 - 0.75 + 0.75 * 4 / 4.4))  # Lucene drops the constant (k1 + 1)
    assert math.isclose(float(s[4]), idf * tf_part, rel_tol=1e-5)
    assert s[0] == 0.0


def test_bm25_query_with_no_known_word_scores_zero():
    assert not _scores(ROWS, Row("omega", "")).any()
    assert bm25.words("Zebra, LION's!") == ["zebra", "lion", "s"]
