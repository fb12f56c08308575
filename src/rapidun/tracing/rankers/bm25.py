"""The ``bm25`` ranker: lexical search of each report over the training rows (docs/method.md section 2).

Each training row is a document (instruction, context and response); each report is a query (its prompt and its
response). Both are lower-cased and split into word tokens; the score is Okapi BM25 in Lucene's form (from the
``bm25s`` package; Lucene drops Okapi's constant factor k1 + 1, which changes no ranking), k1 = 1.5, b = 0.75:

    BM25(q, d) = sum_{t in q} idf(t) * tf(t, d) / (tf(t, d) + k1 (1 - b + b |d| / avgdl)),
    idf(t) = log(1 + (N - n_t + 0.5) / (n_t + 0.5)).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from rapidun.data.rows import Row

if TYPE_CHECKING:
    from rapidun.tracing.ranker_registry import RankInputs

K1 = 1.5
B = 0.75
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore); punctuation and spaces separate them."""
    return _WORD.findall(text.lower())


def row_text(row: Row) -> str:
    return f"{row.instruction} {row.context} {row.response}"


def bm25_scores(documents: list[list[str]], queries: list[list[str]]) -> np.ndarray:
    """(n_queries, n_documents) BM25 scores of word-token lists."""
    import bm25s

    index = bm25s.BM25(method="lucene", k1=K1, b=B)
    index.index(documents, show_progress=False)
    out = np.zeros((len(queries), len(documents)), dtype=np.float32)
    for q, query in enumerate(queries):
        if query:
            out[q] = index.get_scores(query)
    return out


def score(inputs: RankInputs) -> np.ndarray:
    with inputs.ledger.stage("bm25"):
        docs = [words(row_text(r)) for r in inputs.train_rows]
        return bm25_scores(docs, [words(row_text(r)) for r in inputs.report_rows])
