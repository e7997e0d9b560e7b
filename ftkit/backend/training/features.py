"""Prompt features shared by every model: hashed, IDF-weighted lower-cased BPE-token 1–2-grams.

Prompts are lower-cased and split into the model's own tokens (tiktoken, in Rust); token ids and
adjacent id pairs are hashed into 2**17 columns with integer arithmetic in numpy, a bigram
counting 0.3 of a token: bigrams are rare, so IDF weights them high, and at full weight they took
most of each row's norm and slowed learning from the words (measured: held-out accuracy on a
60-example sentiment set rose from 0.85 to 0.95 averaged over 12 seeds). `fit` learns
each column's document frequency over the training prompts and weights counts by the smoothed
inverse document frequency log((1 + n) / (1 + df)): text every prompt shares (a chat template,
a system message, a separator) gets weight 0, so only what tells prompts apart counts. Rows are
then L2-normalised, so a dot product between two prompts is their cosine similarity.

Why not sklearn's HashingVectorizer on words and characters: measured on 100 support tickets it
took 4.6 ms (words) to 20 ms (words + char 3–5-grams) per 100 prompts; these features take about
2 ms, and completions must stay fast. Sub-word tokens still give typos and word variants shared
features.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple, Self

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ftkit.data.tokens import get_encoding

N_FEATURES = 2**17
_MULTIPLIER = np.uint64(2654435761)  # Knuth's multiplicative hash
_PAIR = np.uint64(1_000_003)
BIGRAM_WEIGHT = 0.3  # bigrams are rare, so IDF weights them high; unscaled they drown words


class RowBlock(NamedTuple):
    """Some rows of a CSR matrix as raw arrays (what one SGD step reads), cheap to gather."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray


def hashed_counts(texts: Sequence[str], encoding: str, n_features: int) -> RowBlock:
    """Hashed token unigram + bigram counts of lower-cased texts, as CSR arrays.

    Built with numpy alone: scipy's sparse constructors cost more than the work for one prompt.
    """
    encode = get_encoding(encoding).encode_ordinary
    encoded = [encode(text.lower()) for text in texts]  # the batch API's thread pool is slower
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    flat = np.array(list(itertools.chain.from_iterable(encoded)), dtype=np.uint64)
    rows = np.repeat(np.arange(len(encoded)), lengths)
    same_row = rows[1:] == rows[:-1]
    bigrams = (flat[:-1] * _PAIR + flat[1:] + np.uint64(1))[same_row]
    keys = np.concatenate([flat, bigrams])
    columns = (((keys * _MULTIPLIER) >> np.uint64(16)) % np.uint64(n_features)).astype(np.int64)
    values = np.concatenate(
        [np.ones(len(flat), np.float32), np.full(len(bigrams), BIGRAM_WEIGHT, np.float32)]
    )
    rows = np.concatenate([rows, rows[1:][same_row]])
    cells, inverse = np.unique(rows * n_features + columns, return_inverse=True)
    data = np.bincount(inverse, weights=values, minlength=len(cells))
    indptr = np.concatenate(
        [[0], np.cumsum(np.bincount(cells // n_features, minlength=len(encoded)))]
    )
    return RowBlock(data, cells % n_features, indptr)


class PromptVectorizer(TransformerMixin, BaseEstimator):
    """Hashed token 1–2-grams weighted by learned IDF, L2-normalised (see the module docstring).

    Learned: `document_frequency_` (per column), `n_documents_`.
    """

    def __init__(self, encoding: str = "cl100k_base", n_features: int = N_FEATURES) -> None:
        self.encoding = encoding
        self.n_features = n_features

    def fit(self, X: Sequence[str], y: object = None) -> Self:
        """Learn document frequencies from scratch."""
        self.document_frequency_ = np.zeros(self.n_features, np.float32)
        self.n_documents_ = 0
        return self.partial_fit(X)

    def partial_fit(self, X: Sequence[str], y: object = None) -> Self:
        """Add documents to the frequencies learned so far (fine-tuning a fine-tuned model)."""
        if not hasattr(self, "document_frequency_"):
            return self.fit(X)
        counts = hashed_counts(X, self.encoding, self.n_features)
        np.add.at(self.document_frequency_, counts.indices, 1.0)  # each column once per text
        self.n_documents_ += len(X)
        self._idf: np.ndarray | None = None
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        """IDF-weighted, L2-normalised features (n_texts × n_features, float32)."""
        check_is_fitted(self)
        counts = hashed_counts(X, self.encoding, self.n_features)
        weighted = counts.data * self.idf()[counts.indices]
        keep = weighted != 0
        rows = np.repeat(np.arange(len(X)), np.diff(counts.indptr))[keep]
        data = weighted[keep].astype(np.float64)
        norms = np.sqrt(np.bincount(rows, weights=data**2, minlength=len(X)))
        norms[norms == 0] = 1.0
        data /= norms[rows]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(X)))])
        return sp.csr_matrix(
            (data.astype(np.float32), counts.indices[keep], indptr),
            shape=(len(X), self.n_features),
        )

    def idf(self) -> np.ndarray:
        """log((1 + n) / (1 + df)) per column (cached until the next partial_fit)."""
        idf: np.ndarray | None = getattr(self, "_idf", None)
        if idf is None:
            idf = np.log((1.0 + self.n_documents_) / (1.0 + self.document_frequency_))
            idf = self._idf = idf.astype(np.float32)
        return idf


def take_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> RowBlock:
    """Rows of a CSR matrix, gathered with a few numpy calls (scipy's row indexing costs ~0.3 ms)."""
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    positions = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    return RowBlock(matrix.data[positions], matrix.indices[positions], indptr)
