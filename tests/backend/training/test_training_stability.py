"""The fast learner's result does not hang on the seed, and its rule is the one documented.

The multi-seed check on a realistic tweet set is `bench/stability.py`; here a smaller version on
a generated binary set whose words only lean towards a label (many reviews say both), with 15%
of the labels flipped: hard enough that a constant step size left accuracy to seed luck.
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from training_fixtures import write_jsonl

from ftkit.backend.training import TrainingRequest, train
from ftkit.backend.training.classifier import SoftmaxSGDClassifier
from ftkit.backend.training.hyperparameters import resolve_hyperparameters
from ftkit.backend.training.storage import load_model

GOOD = ["great", "loved", "fine", "fun", "superb", "moving", "charming", "smart", "warm", "best"]
BAD = ["dull", "boring", "awful", "flat", "weak", "messy", "slow", "silly", "bland", "worst"]
NEUTRAL = ["film", "plot", "actor", "scene", "story", "music", "ending", "cast", "script", "the"]


def reviews(n: int, seed: int) -> list[tuple[str, str]]:
    """Short reviews: five neutral words and three leaning words, 70% from the label's side."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["positive", "negative"])
        own, other = (GOOD, BAD) if label == "positive" else (BAD, GOOD)
        words = rng.sample(NEUTRAL, 5)
        words += [rng.choice(own if rng.random() < 0.7 else other) for _ in range(3)]
        rng.shuffle(words)
        if rng.random() < 0.15:
            label = "negative" if label == "positive" else "positive"
        rows.append((" ".join(words), label))
    return rows


def as_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    return write_jsonl(
        path, [{"prompt": t + "\n\n###\n\n", "completion": f" {y}\n"} for t, y in rows]
    )


@pytest.mark.slow
def test_held_out_accuracy_hardly_moves_with_the_seed(tmp_path: Path) -> None:
    """Six seeds, default hyperparameters: spread ≤ 0.03, mean within 0.02 of TF-IDF + LR."""
    rows = reviews(1400, seed=7)
    train_rows, test_rows = rows[:1000], rows[1000:]
    train_path = as_jsonl(tmp_path / "train.jsonl", train_rows)
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    peer = LogisticRegression(max_iter=1000).fit(
        tfidf.fit_transform([t for t, _ in train_rows]), [y for _, y in train_rows]
    )
    truth = np.array([y for _, y in test_rows])
    baseline = float(np.mean(peer.predict(tfidf.transform([t for t, _ in test_rows])) == truth))
    accuracies = []
    for seed in range(6):
        out = tmp_path / f"seed-{seed}"
        out.mkdir()
        request = TrainingRequest(
            train_path=train_path,
            base_model="babbage-002",
            hyperparameters=resolve_hyperparameters(len(train_rows)),
            seed=seed,
        )
        model = load_model(train(request, out_dir=out).model_path)
        estimator = model.head.estimator  # type: ignore[union-attr]
        features = model.vectorizer.transform([t + "\n\n###\n\n" for t, _ in test_rows])
        predicted = np.array([c.strip() for c in estimator.predict(features)])
        accuracies.append(float(np.mean(predicted == truth)))
    assert max(accuracies) - min(accuracies) <= 0.03, accuracies
    assert abs(statistics.mean(accuracies) - baseline) <= 0.02, (accuracies, baseline)


def _features(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = sp.random(60, 50, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    return X, rng.integers(0, 3, size=60)


def test_the_model_answers_with_the_mean_of_the_last_half_of_the_iterates() -> None:
    """In the second half of a planned run, the weights used are the mean of its iterates so far;
    at the plan's end they become the weights."""
    X, y = _features()
    estimator = SoftmaxSGDClassifier(learning_rate=3.0).partial_fit(X[:0], y[:0], np.arange(3))
    estimator.plan(10)
    iterates = []
    for step in range(10):
        rows = np.arange(step * 6, step * 6 + 6)
        estimator.step(X[rows], y[rows])
        iterates.append((estimator.weights_.copy(), estimator.intercept_.copy()))
        weights, intercept = estimator.parameters()
        if step < 5:
            assert weights is estimator.weights_
        elif step < 9:
            tail = iterates[5:]
            assert np.allclose(weights, np.mean([w for w, _ in tail], axis=0), atol=1e-6)
            assert np.allclose(intercept, np.mean([b for _, b in tail], axis=0))
            assert step == 5 or not np.allclose(weights, estimator.weights_)
    weights, _ = estimator.parameters()
    assert weights is estimator.weights_  # the plan ended: the mean is the model now
    assert estimator.n_steps_ == 10


def test_the_step_size_decays_linearly_from_the_learning_rate() -> None:
    """Step t of a T-step plan moves weights by learning_rate · (1 − t/T) × the gradient."""
    X, y = _features(1)
    row = X[:1]
    moves = []
    for taken in (0, 5):
        estimator = SoftmaxSGDClassifier(learning_rate=2.0).partial_fit(X[:0], y[:0], np.arange(3))
        estimator.plan(10)
        estimator._taken = taken  # as if `taken` steps had already been made
        before = estimator.weights_.copy()
        estimator.step(row, y[:1])
        moves.append(np.abs(estimator.weights_ - before).sum())
    assert moves[1] == pytest.approx(moves[0] * 0.5, rel=1e-5)
