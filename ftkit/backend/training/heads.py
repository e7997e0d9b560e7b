"""Model heads: what turns prompt features into weighted candidate completions.

- `ClassifierHead`: softmax regression over hashed prompt features; its classes (the distinct
  completions) are the candidates, so the first token's distribution is the class probabilities
  summed by first token and later tokens are conditional on the classes still possible.
- `RetrievalHead`: a `RetrievalGenerator`'s neighbours' completions plus its background unigram.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tiktoken

from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.decoding import Candidates, CandidateTrie
from ftkit.backend.training.metrics import TokenScores
from ftkit.backend.training.retrieval import RetrievalGenerator


class ClassifierHead:
    """A SoftmaxSGDClassifier whose classes are completions; their token trie is built once."""

    def __init__(self, estimator: SoftmaxSGDClassifier, encoding: tiktoken.Encoding) -> None:
        self.estimator = estimator
        self.labels: list[str] = [str(c) for c in estimator.classes_]
        sequences = [
            [*encoding.encode_ordinary(label), encoding.eot_token] for label in self.labels
        ]
        self.trie = CandidateTrie(sequences)
        self.paths = _TriePaths(self.trie, sequences, encoding.eot_token)

    def teacher_forced(self, probs: np.ndarray, classes: np.ndarray) -> TokenScores:
        """Teacher-forced token scores of the true classes, vectorised over the batch.

        The same numbers as `decoding.teacher_forced` on each row (a test checks it): token t of
        class c has p = mass(node after t) / mass(node before t), and is correct when that node
        has the most mass among its siblings.
        """
        paths = self.paths
        masses = np.hstack([self.trie.node_mass(probs), np.zeros((len(probs), 1))])
        rows = np.arange(len(probs))[:, None]
        parent, child, scored = paths.parent[classes], paths.child[classes], paths.scored[classes]
        with np.errstate(divide="ignore", invalid="ignore"):
            nll = -np.log(masses[rows, child] / masses[rows, parent])
        siblings = paths.siblings[parent]
        best = np.take_along_axis(
            siblings, masses[rows[:, :, None], siblings].argmax(axis=2)[:, :, None], axis=2
        )[:, :, 0]
        return TokenScores(
            np.where(scored, nll, 0.0).sum(axis=1),
            scored.sum(axis=1).astype(float),
            (scored & (best == child)).sum(axis=1).astype(float),
        )

    def candidates_from_proba(self, probs: np.ndarray) -> Candidates:
        """Per row of class probabilities: the shared trie and that row's node masses."""
        masses = self.trie.node_mass(probs)
        return [(self.trie, row, None) for row in masses]

    def prompt_candidates(self, features: sp.csr_matrix) -> Candidates:
        """Candidates for prompts, all prompts scored in one matrix product."""
        return self.candidates_from_proba(self.estimator.predict_proba(features))


class _TriePaths:
    """Each class's path through the trie as padded arrays (for vectorised scoring).

    parent/child: the node before/after each token (padding points at a zero-mass column);
    scored: real positions, less an end-of-text that is the only continuation; siblings: each
    node's children, padded with the zero-mass column.
    """

    def __init__(self, trie: CandidateTrie, sequences: list[list[int]], end_token: int) -> None:
        pad = len(trie.children)
        length = max(len(s) for s in sequences)
        self.parent = np.full((len(sequences), length), pad)
        self.child = np.full((len(sequences), length), pad)
        self.scored = np.zeros((len(sequences), length), dtype=bool)
        for index, sequence in enumerate(sequences):
            node = 0
            for position, token in enumerate(sequence):
                nxt = trie.children[node][token]
                self.parent[index, position], self.child[index, position] = node, nxt
                forced_end = token == end_token and len(trie.children[node]) == 1
                self.scored[index, position] = not forced_end
                node = nxt
        width = max(len(c) for c in trie.children)
        self.siblings = np.full((pad + 1, width), pad)
        for node, children in enumerate(trie.children):
            self.siblings[node, : len(children)] = list(children.values())


class RetrievalHead:
    """Generation adapter for a RetrievalGenerator."""

    def __init__(self, generator: RetrievalGenerator) -> None:
        self.generator = generator

    def prompt_candidates(self, features: sp.csr_matrix) -> Candidates:
        """Candidates from each prompt's nearest remembered prompts."""
        rows, sims = self.generator.neighbours(features)
        return self.generator.candidates(rows, self.generator.weights(rows, sims))
