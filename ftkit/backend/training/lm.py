"""Unigram token models: the prompt-token model and the free-text background model."""

from __future__ import annotations

import numpy as np

TOP_CACHE = 64


class UnigramLM:
    """Add-`alpha` smoothed unigram counts over an encoding's whole vocabulary.

    p(token) = (count + alpha) / (total + alpha · n_vocab); with alpha 0 only counted tokens
    have probability.
    """

    def __init__(self, n_vocab: int, alpha: float, counts: np.ndarray | None = None) -> None:
        self.alpha = alpha
        self.counts = np.zeros(n_vocab) if counts is None else counts.astype(np.float64)
        self.total = float(self.counts.sum())
        self._top: tuple[np.ndarray, np.ndarray] | None = None
        self._top_lists: tuple[list[int], list[float]] | None = None

    def update(self, tokens: np.ndarray, weight: float = 1.0) -> None:
        """Count `tokens` (repeats included) with `weight` each."""
        if weight and len(tokens):
            np.add.at(self.counts, tokens, weight)
            self.total += weight * len(tokens)
            self._top = self._top_lists = None

    def prob(self, tokens: np.ndarray) -> np.ndarray:
        """p(token) for each token."""
        denominator = self.total + self.alpha * len(self.counts)
        return (self.counts[tokens] + self.alpha) / denominator if denominator else tokens * 0.0

    def prob_of(self, token: int) -> float:
        """p(token) for one token."""
        denominator = self.total + self.alpha * len(self.counts)
        return (float(self.counts[token]) + self.alpha) / denominator if denominator else 0.0

    def logprob(self, tokens: np.ndarray) -> np.ndarray:
        """log p(token) for each token (−inf where p is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.prob(tokens))

    def top(self) -> tuple[np.ndarray, np.ndarray]:
        """The 64 most probable tokens, most probable (then lowest id) first, with probabilities."""
        if self._top is None:
            k = min(TOP_CACHE, len(self.counts))
            tokens = np.argpartition(-self.counts, k - 1)[:k]
            tokens = tokens[np.lexsort((tokens, -self.counts[tokens]))]  # ties: lower id first
            self._top = tokens, self.prob(tokens)
        return self._top

    def top_lists(self) -> tuple[list[int], list[float]]:
        """`top()` as Python lists (cached), for token-by-token loops."""
        if self._top_lists is None:
            tokens, probs = self.top()
            self._top_lists = tokens.tolist(), probs.tolist()
        return self._top_lists

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, counts) of the counted tokens, for saving."""
        ids = np.flatnonzero(self.counts)
        return ids, self.counts[ids]

    @classmethod
    def from_sparse(
        cls, n_vocab: int, alpha: float, ids: np.ndarray, counts: np.ndarray
    ) -> UnigramLM:
        """Rebuild from `sparse()` output."""
        dense = np.zeros(n_vocab)
        dense[ids] = counts
        return cls(n_vocab, alpha, dense)
