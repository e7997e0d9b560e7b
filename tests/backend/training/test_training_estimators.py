"""The classifier and the vectorizer follow scikit-learn's estimator conventions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from training_fixtures import tickets

from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.features import PromptVectorizer


@pytest.fixture
def data() -> tuple[list[str], np.ndarray]:
    """Ticket prompts and their labels."""
    rows = tickets(300, seed=31)
    return [r["prompt"] for r in rows], np.array([r["completion"] for r in rows])


def test_parameters_round_trip_through_clone() -> None:
    """Hyperparameters are stored unchanged, so clone() rebuilds an identical unfitted copy."""
    estimator = SoftmaxSGDClassifier(learning_rate=2.0, batch_size=8, n_epochs=3, random_state=5)
    assert clone(estimator).get_params() == estimator.get_params()
    assert PromptVectorizer("r50k_base", 1024).get_params() == {
        "encoding": "r50k_base",
        "n_features": 1024,
    }


def test_fit_returns_self_and_learns(data: tuple[list[str], np.ndarray]) -> None:
    """fit returns the estimator; learned attributes end in _; predictions beat chance."""
    prompts, labels = data
    X = PromptVectorizer().fit(prompts).transform(prompts)
    estimator = SoftmaxSGDClassifier(learning_rate=2.0, batch_size=4, random_state=0)
    assert estimator.fit(X, labels) is estimator
    assert list(estimator.classes_) == sorted(set(labels))
    assert estimator.coef_.shape == (3, X.shape[1])
    probs = estimator.predict_proba(X)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert estimator.score(X, labels) > 0.8


def test_same_random_state_same_model(data: tuple[list[str], np.ndarray]) -> None:
    """Training is reproducible from random_state."""
    prompts, labels = data
    X = PromptVectorizer().fit(prompts).transform(prompts)
    first = SoftmaxSGDClassifier(random_state=3).fit(X, labels)
    second = SoftmaxSGDClassifier(random_state=3).fit(X, labels)
    assert np.array_equal(first.coef_, second.coef_)


def test_unfitted_estimators_refuse_to_predict() -> None:
    """predict and transform before fit raise NotFittedError."""
    with pytest.raises(NotFittedError):
        SoftmaxSGDClassifier().predict_proba(np.zeros((1, 4)))
    with pytest.raises(NotFittedError):
        PromptVectorizer().transform(["x"])


def test_shared_text_gets_no_weight() -> None:
    """IDF gives text every prompt shares weight 0; rows are unit length."""
    prompts = ["ticket: refund please ->", "ticket: parcel lost ->", "ticket: password reset ->"]
    vectorizer = PromptVectorizer().fit(prompts)
    X = vectorizer.transform(prompts)
    shared = vectorizer.transform(["ticket:"])
    assert shared.nnz == 0
    assert np.allclose(np.sqrt(X.multiply(X).sum(axis=1)), 1.0)
