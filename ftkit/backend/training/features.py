"""Hashed prompt features shared by every model: lower-cased BPE-token unigrams and bigrams.

Prompts are lower-cased and split into the model's own tokens (tiktoken, in Rust), token ids
and adjacent id pairs are hashed into 2**18 columns with integer arithmetic in numpy, and rows
are L2-normalised, so a dot product between two prompts is their cosine similarity. Stateless:
features are computed once per dataset up front and a saved model needs no vocabulary.

Why not sklearn's HashingVectorizer on words and characters: measured on 100 support tickets,
it took 4.6 ms (words) to 20 ms (words + char 3–5-grams) per 100 prompts; these features take
well under 1 ms, and completions must stay fast. Sub-word tokens still give typos and word
variants shared features.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from ftkit.data.tokens import get_encoding

N_FEATURES = 2**18
_MULTIPLIER = np.uint64(2654435761)  # Knuth's multiplicative hash
_PAIR = np.uint64(1_000_003)


class TokenHashingVectorizer(TransformerMixin, BaseEstimator):
    """Stateless transformer: texts → L2-normalised hashed token 1–2-gram counts."""

    def __init__(self, encoding: str = "cl100k_base", n_features: int = N_FEATURES) -> None:
        self.encoding = encoding
        self.n_features = n_features

    def fit(self, X: Sequence[str], y: object = None) -> TokenHashingVectorizer:
        """Nothing to learn; returns self."""
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        """Hashed, L2-normalised token unigram + bigram features (n_texts × n_features)."""
        encode = get_encoding(self.encoding).encode_ordinary
        encoded = [encode(text.lower()) for text in X]  # the batch API's thread pool is slower
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        flat = np.array(list(itertools.chain.from_iterable(encoded)), dtype=np.uint64)
        rows = np.repeat(np.arange(len(encoded)), lengths)
        same_row = rows[1:] == rows[:-1]
        bigrams = (flat[:-1] * _PAIR + flat[1:] + np.uint64(1))[same_row]
        keys = np.concatenate([flat, bigrams])
        columns = ((keys * _MULTIPLIER) >> np.uint64(16)) % np.uint64(self.n_features)
        all_rows = np.concatenate([rows, rows[1:][same_row]])
        matrix = sp.csr_matrix(
            (np.ones(len(keys), np.float32), (all_rows, columns.astype(np.int64))),
            shape=(len(encoded), self.n_features),
        )
        matrix.sum_duplicates()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        matrix.data /= np.repeat(norms, np.diff(matrix.indptr)).astype(np.float32)
        return matrix


def prompt_features(prompts: Sequence[str], encoding: str) -> sp.csr_matrix:
    """Features of prompts for a model using `encoding`."""
    return TokenHashingVectorizer(encoding).transform(prompts)
