"""The free-text model: nearest training prompts vote for their completions.

Memory: the hashed features of every training prompt seen so far and its completion. For a
prompt x the k = 8 most similar remembered prompts (cosine similarity s_j) get weights
softmax(β · s_j); their completions are the candidates of a token trie (see `decoding`), mixed
with a background unigram model (ε = 0.1) so any text has a finite loss and text can continue
past every candidate.

What training does, step by step (one minibatch each):
- scores the batch with the model as it is (honest metrics), then
- adds the batch's examples to the memory (a first epoch sees prompts it has not remembered yet;
  later epochs find them, so more epochs lower the loss),
- takes one SGD step on the sharpness β to lower the completions' negative log-likelihood under
  the neighbour weights: β ← β − lr · mean(E_p[s] − E_{p | true completion}[s]), where
  lr = 100 × learning_rate_multiplier (base rate 100 because similarities lie in [0, 1]),
- counts the batch's tokens into the background model: completion tokens with weight 1 and
  prompt tokens with weight `prompt_loss_weight`, so prompt_loss_weight decides how much the
  prompts' vocabulary shapes what the model writes once it leaves the remembered completions.
batch_size sets how many examples share one β step, n_epochs how many passes are made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ftkit.backend.training.decoding import Background, Candidates, CandidateTrie
from ftkit.backend.training.lm import UnigramLM

TOP_K = 8
MIX_WEIGHT = 0.1
BASE_BETA_LEARNING_RATE = 100.0
INITIAL_BETA = 10.0
MAX_BETA = 500.0
CHUNK_ROWS = 256


class RetrievalGenerator:
    """Nearest-neighbour completion model; see the module docstring."""

    def __init__(
        self,
        memory: sp.csr_matrix,
        targets: np.ndarray,
        completions: list[np.ndarray],
        background: UnigramLM,
        beta: float = INITIAL_BETA,
    ) -> None:
        self.memory = memory.tocsr()
        self.targets = targets.astype(np.int64)
        self.completions = completions
        self.background = Background(background, MIX_WEIGHT)
        self.beta = beta
        self._memory_t = self.memory.T.tocsr()

    def neighbours(
        self, features: sp.csr_matrix, available: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(memory rows, similarities) of the k nearest remembered prompts of each row.

        Rows not `available` (not yet seen in training) are skipped; missing neighbours are -1.
        """
        m, size = features.shape[0], self.memory.shape[0]
        k = min(TOP_K, size)
        rows = np.full((m, k), -1)
        top = np.zeros((m, k))
        for start in range(0, m if k else 0, CHUNK_ROWS):  # bounds the dense similarity block
            sims = (features[start : start + CHUNK_ROWS] @ self._memory_t).toarray()
            if available is not None:
                sims[:, ~available] = -np.inf
            chunk = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            rows[start : start + CHUNK_ROWS] = chunk
            top[start : start + CHUNK_ROWS] = np.take_along_axis(sims, chunk, axis=1)
        missing = ~np.isfinite(top)
        rows[missing] = -1
        top[missing] = 0.0
        return rows, top

    def weights(self, rows: np.ndarray, sims: np.ndarray) -> np.ndarray:
        """softmax(β · s) over the present neighbours of each row."""
        logits = np.where(rows >= 0, self.beta * sims, -np.inf)
        if logits.shape[1] == 0:
            return logits
        top = logits.max(axis=1, keepdims=True)
        top[~np.isfinite(top)] = 0.0
        weights = np.exp(logits - top)
        total = weights.sum(axis=1, keepdims=True)
        return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)

    def candidates(self, rows: np.ndarray, weights: np.ndarray) -> Candidates:
        """Per prompt: the trie of its neighbours' distinct completions and its node masses."""
        out: Candidates = []
        for row_ids, row_weights in zip(rows, weights, strict=True):
            present = row_ids >= 0
            ids, inverse = np.unique(self.targets[row_ids[present]], return_inverse=True)
            summed = np.bincount(inverse, weights=row_weights[present], minlength=len(ids))
            trie = CandidateTrie([self.completions[i] for i in ids])
            out.append((trie, trie.node_mass(summed), self.background))
        return out

    def beta_step(
        self, rows: np.ndarray, sims: np.ndarray, true_targets: np.ndarray, learning_rate: float
    ) -> None:
        """One SGD step on β for a batch (examples with no correct neighbour do not vote)."""
        weights = self.weights(rows, sims)
        hits = (rows >= 0) & (self.targets[np.maximum(rows, 0)] == true_targets[:, None])
        p_true = (weights * hits).sum(axis=1)
        usable = p_true > 0
        if not usable.any():
            return
        expected = (weights * sims).sum(axis=1)
        expected_true = (weights * hits * sims).sum(axis=1)[usable] / p_true[usable]
        gradient = float(np.mean(expected[usable] - expected_true))
        self.beta = float(np.clip(self.beta - learning_rate * gradient, 0.0, MAX_BETA))


def completion_table(
    sequences: Sequence[np.ndarray], existing: list[np.ndarray] | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct completions (token arrays) and the id of each input sequence among them."""
    table = list(existing or [])
    index = {tuple(seq.tolist()): i for i, seq in enumerate(table)}
    ids = np.empty(len(sequences), dtype=np.int64)
    for position, seq in enumerate(sequences):
        key = tuple(seq.tolist())
        if key not in index:
            index[key] = len(table)
            table.append(np.asarray(seq, dtype=np.int64))
        ids[position] = index[key]
    return table, ids
