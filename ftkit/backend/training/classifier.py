"""Softmax (multinomial logistic) regression trained by minibatch SGD, as an sklearn estimator.

One optimizer step per minibatch: p = softmax(X W + b); W -= lr · Xᵀ(p − y) / batch. Only the
weight rows of features present in the batch are touched, so a step costs O(nonzeros × classes)
however large the hashed feature space is.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ftkit.backend.training.features import RowBlock


class SoftmaxSGDClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression on sparse features, one SGD step per minibatch.

    Parameters are stored unchanged; `fit` runs `n_epochs` shuffled passes of `batch_size`
    examples at step size `learning_rate`; `partial_fit` takes one step on the batch given.
    Learned: `classes_`, `coef_` (n_classes × n_features), `intercept_`, `n_steps_`.
    """

    classes_: np.ndarray
    weights_: np.ndarray
    intercept_: np.ndarray
    n_steps_: int

    def __init__(
        self,
        learning_rate: float = 1.0,
        batch_size: int = 32,
        n_epochs: int = 4,
        random_state: int | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.random_state = random_state

    def fit(self, X: sp.csr_matrix, y: np.ndarray) -> Self:
        """Train from zero weights: `n_epochs` shuffled passes of minibatch SGD."""
        X = sp.csr_matrix(X)
        self._init(np.unique(y), X.shape[1])
        targets = np.searchsorted(self.classes_, y)
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.n_epochs):
            order = rng.permutation(X.shape[0])
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                self.step(X[batch], targets[batch])
        return self

    def partial_fit(
        self, X: sp.csr_matrix, y: np.ndarray, classes: np.ndarray | None = None
    ) -> Self:
        """One SGD step on this batch; `classes` is required on the first call."""
        X = sp.csr_matrix(X)
        if not hasattr(self, "classes_"):
            if classes is None:
                msg = "classes must be passed on the first call to partial_fit"
                raise ValueError(msg)
            self._init(np.unique(classes), X.shape[1])
        self.step(X, np.searchsorted(self.classes_, y))
        return self

    def step(self, X: sp.csr_matrix | RowBlock, targets: np.ndarray) -> np.ndarray:
        """One SGD step on class indices `targets`; returns the probabilities before the step.

        Reads only X's CSR arrays, so a `RowBlock` of training rows is enough.
        """
        rows = np.repeat(np.arange(len(targets)), np.diff(X.indptr))
        weights = self.weights_[X.indices]
        weights *= X.data[:, None]
        logits = np.zeros((len(targets), len(self.classes_)))
        np.add.at(logits, rows, weights)
        probs = _softmax(logits + self.intercept_)
        if not len(targets):
            return probs
        gradient = probs.copy()
        gradient[np.arange(len(targets)), targets] -= 1.0
        gradient *= self.learning_rate / len(targets)
        np.add.at(self.weights_, X.indices, -(X.data[:, None] * gradient[rows]))
        self.intercept_ -= gradient.sum(axis=0)
        self.n_steps_ += 1
        return probs

    def add_classes(self, classes: np.ndarray) -> Self:
        """Widen a fitted model with new classes (zero weights), keeping what it learned."""
        check_is_fitted(self)
        merged = np.union1d(self.classes_, classes)
        position = np.searchsorted(merged, self.classes_)
        weights = np.zeros((self.weights_.shape[0], len(merged)), dtype=np.float32)
        weights[:, position] = self.weights_
        intercept = np.zeros(len(merged))
        intercept[position] = self.intercept_
        self.classes_, self.weights_, self.intercept_ = merged, weights, intercept
        return self

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """Class probabilities, columns in `classes_` order."""
        check_is_fitted(self)
        return self._proba(X if sp.isspmatrix_csr(X) else sp.csr_matrix(X))

    def predict(self, X: sp.csr_matrix) -> np.ndarray:
        """The most probable class of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    @property
    def coef_(self) -> np.ndarray:
        """Weights as n_classes × n_features (sklearn's layout)."""
        return self.weights_.T

    def _init(self, classes: np.ndarray, n_features: int) -> None:
        self.classes_ = classes
        self.weights_ = np.zeros((n_features, len(classes)), dtype=np.float32)
        self.intercept_ = np.zeros(len(classes))
        self.n_steps_ = 0

    def _proba(self, X: sp.csr_matrix) -> np.ndarray:
        return _softmax(X @ self.weights_ + self.intercept_)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits
