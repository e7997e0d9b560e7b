"""Classification metrics from predictions: hand-computed cases and scikit-learn agreement."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from ftkit.evaluate.classes import OTHER
from ftkit.evaluate.classification import classification_metrics, default_positive_class
from ftkit.evaluate.predictions import Prediction


def rows(cases: list[tuple[str, str, dict[str, float] | None]]) -> list[Prediction]:
    return [
        Prediction(
            index=i,
            line=i + 1,
            prompt=f"p{i}",
            expected=expected,
            predicted=predicted,
            text=predicted,
            probabilities=probabilities,
        )
        for i, (expected, predicted, probabilities) in enumerate(cases)
    ]


BINARY = rows(
    [
        ("a", "a", {"a": 0.9, "b": 0.1}),
        ("a", "b", {"a": 0.4, "b": 0.6}),
        ("b", "b", {"a": 0.2, "b": 0.8}),
        ("b", OTHER, {"a": 0.5, "b": 0.5}),
        ("a", "a", {"a": 0.7, "b": 0.3}),
    ]
)


def test_binary_scores_match_hand_computed_values() -> None:
    """a: TP 2, FN 1, FP 0; b: TP 1, FN 1 (one <other>), FP 1; accuracy 3/5."""
    result = classification_metrics(BINARY, ["a", "b"], positive_class="a", betas=[0.5, 2])
    assert result.accuracy == 0.6
    assert pytest.approx((result.precision, result.recall, result.f1)) == (1.0, 2 / 3, 0.8)
    assert pytest.approx((1.0 + 0.5) / 2) == result.precision_macro
    assert pytest.approx((2 / 3 + 0.5) / 2) == result.recall_macro
    assert pytest.approx((0.8 + 0.5) / 2) == result.f1_macro
    assert pytest.approx(0.8 * 3 / 5 + 0.5 * 2 / 5) == result.f1_weighted
    # F-beta of the positive class: (1+β²)PR/(β²P+R)
    assert pytest.approx(1.25 * (2 / 3) / (0.25 + 2 / 3)) == result.fbeta["f0.5"]
    assert pytest.approx(5 * (2 / 3) / (4 + 2 / 3)) == result.fbeta["f2.0"]
    assert sorted(result.fbeta) == ["f0.5", "f1.0", "f2.0"]


def test_invalid_answers_are_counted_and_shown_not_dropped() -> None:
    """<other> answers get their own confusion-matrix column and an invalid count."""
    result = classification_metrics(BINARY, ["a", "b"])
    assert result.invalid == 1
    assert result.invalid_texts == {OTHER: 1}
    assert result.confusion.predicted_labels == ["a", "b", OTHER]
    assert result.confusion.matrix == [[2, 1, 0], [0, 1, 1]]
    assert result.flat()["invalid_rate"] == 0.2


def test_binary_probability_metrics_agree_with_scikit_learn() -> None:
    """ROC AUC, average precision, log loss and Brier use P(positive class)."""
    result = classification_metrics(BINARY, ["a", "b"], positive_class="a")
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.2, 0.5, 0.7])
    # hand: positives {.9,.4,.7} vs negatives {.2,.5}: pairs won 5 of 6
    assert pytest.approx(5 / 6) == result.roc_auc
    assert pytest.approx(metrics.average_precision_score(y, p)) == result.average_precision
    assert pytest.approx(np.mean((y - p) ** 2)) == result.brier
    assert pytest.approx(-np.mean(np.log(np.where(y == 1, p, 1 - p)))) == result.log_loss
    assert len(result.roc_curves) == 1 and result.roc_curves[0].area == result.roc_auc
    assert result.reliability is not None and sum(result.reliability.counts or []) == 5


def test_multiclass_uses_one_vs_rest_and_multiclass_brier() -> None:
    """Three classes: macro one-vs-rest ROC AUC, multiclass Brier and log loss as scikit-learn."""
    probs = [
        {"x": 0.7, "y": 0.2, "z": 0.1},
        {"x": 0.1, "y": 0.8, "z": 0.1},
        {"x": 0.2, "y": 0.3, "z": 0.5},
        {"x": 0.3, "y": 0.4, "z": 0.3},
        {"x": 0.1, "y": 0.1, "z": 0.8},
        {"x": 0.6, "y": 0.3, "z": 0.1},
    ]
    expected = ["x", "y", "z", "x", "z", "y"]
    predicted = ["x", "y", "z", "y", "z", "x"]
    data = rows(list(zip(expected, predicted, probs, strict=True)))
    result = classification_metrics(data, ["x", "y", "z"])
    matrix = np.array([[p[c] for c in "xyz"] for p in probs])
    assert result.positive_class is None and result.precision is None
    assert (
        pytest.approx(metrics.roc_auc_score(expected, matrix, multi_class="ovr")) == result.roc_auc
    )
    assert pytest.approx(metrics.log_loss(expected, matrix)) == result.log_loss
    onehot = np.array([[c == e for c in "xyz"] for e in expected], dtype=float)
    assert pytest.approx(np.mean(((onehot - matrix) ** 2).sum(axis=1))) == result.brier
    assert 3 == len(result.roc_curves) == len(result.pr_curves)
    assert pytest.approx(4 / 6) == result.accuracy
    assert pytest.approx(metrics.f1_score(expected, predicted, average="macro")) == result.f1_macro
    assert result.reliability is not None and result.reliability.name == "top-label confidence"


def test_without_probabilities_the_probability_metrics_are_absent() -> None:
    """Rows without logprobs give label metrics only."""
    data = rows([("a", "a", None), ("b", "a", None)])
    result = classification_metrics(data, ["a", "b"])
    assert result.roc_auc is None and result.log_loss is None and result.n_scored == 0
    assert "roc_auc" not in result.flat() and result.flat()["accuracy"] == 0.5


def test_positive_class_defaults_to_the_last_sorted_and_matches_loosely() -> None:
    """The configured positive class matches with or without its leading space."""
    assert default_positive_class([" negative", " positive"], None) == " positive"
    assert default_positive_class([" negative", " positive"], "negative") == " negative"
    assert default_positive_class(["a", "b", "c"], "a") is None
