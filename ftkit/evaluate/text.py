"""Free-text metrics: exact match, normalised token F1 (SQuAD-style), length statistics.

Normalisation (for `normalized_exact_match` and `token_f1`): lower case, punctuation removed,
the articles a/an/the removed, whitespace collapsed. Token F1 is the F1 of the bag of normalised
words of the answer against the reference, averaged over examples (both empty → 1). Lengths are
in words.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from ftkit.evaluate.predictions import Prediction

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


class LengthStats(BaseModel):
    """Word counts of a set of texts."""

    mean: float
    median: float
    p95: float
    max: int


class TextMetrics(BaseModel):
    """Free-text metrics of one model on the evaluation split."""

    n: int
    exact_match: float
    normalized_exact_match: float
    token_f1: float
    expected_length: LengthStats
    predicted_length: LengthStats
    empty_answers: int

    def flat(self) -> dict[str, float]:
        """The scalar metrics by name (the names a quality gate can use)."""
        return {
            "exact_match": self.exact_match,
            "normalized_exact_match": self.normalized_exact_match,
            "token_f1": self.token_f1,
            "empty_rate": self.empty_answers / self.n if self.n else 0.0,
        }


def normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def token_f1(predicted: str, expected: str) -> float:
    """F1 of the bags of normalised words (1.0 when both are empty)."""
    pred, ref = normalize(predicted).split(), normalize(expected).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def text_metrics(rows: Sequence[Prediction]) -> TextMetrics:
    """Exact match, normalised exact match, token F1 and lengths over `rows`."""
    n = len(rows)
    exact = sum(row.predicted.strip() == row.expected.strip() for row in rows)
    normal = sum(normalize(row.predicted) == normalize(row.expected) for row in rows)
    f1 = sum(token_f1(row.predicted, row.expected) for row in rows)
    return TextMetrics(
        n=n,
        exact_match=exact / n if n else 0.0,
        normalized_exact_match=normal / n if n else 0.0,
        token_f1=f1 / n if n else 0.0,
        expected_length=_lengths([row.expected for row in rows]),
        predicted_length=_lengths([row.predicted for row in rows]),
        empty_answers=sum(not row.predicted.strip() for row in rows),
    )


def _lengths(texts: Sequence[str]) -> LengthStats:
    words = np.array([len(text.split()) for text in texts] or [0])
    return LengthStats(
        mean=float(words.mean()),
        median=float(np.median(words)),
        p95=float(np.percentile(words, 95)),
        max=int(words.max()),
    )
