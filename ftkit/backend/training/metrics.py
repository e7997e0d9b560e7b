"""Honest metrics: teacher-forced loss/accuracy from the model's own predictions, and the legacy
`classification/*` columns from scikit-learn on the full validation set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn import metrics

from ftkit.backend.training.decoding import Candidates, teacher_forced


@dataclass(frozen=True)
class BatchScore:
    """Loss and accuracies of a model on a batch, before it learns from the batch.

    loss = (Σ completion-token NLL + w · Σ prompt-token NLL) / (completion tokens + w · prompt
    tokens), w = prompt_loss_weight; a sequence is correct when every completion token (and a
    real end-of-text decision) is the model's most probable next token given the true prefix.
    """

    loss: float
    sequence_accuracy: float
    token_accuracy: float


@dataclass(frozen=True)
class TokenScores:
    """Per example: summed token NLL, scored positions, correctly predicted positions."""

    nll: np.ndarray
    positions: np.ndarray
    correct: np.ndarray


def teacher_forced_scores(
    candidates: Candidates, targets: Sequence[np.ndarray], end_token: int
) -> TokenScores:
    """Teacher-forced scores of each target under its prompt's candidates (any model)."""
    rows = [
        teacher_forced(trie, mass, background, target, end_token)
        for (trie, mass, background), target in zip(candidates, targets, strict=True)
    ]
    nll, positions, correct = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    return TokenScores(nll, positions, correct)


def score_batch(
    scores: TokenScores, prompt_nll: float, prompt_tokens: int, prompt_loss_weight: float
) -> BatchScore:
    """Combine per-example token scores and the batch's prompt-token loss into a BatchScore."""
    positions = float(scores.positions.sum())
    denominator = positions + prompt_loss_weight * prompt_tokens
    numerator = float(scores.nll.sum()) + prompt_loss_weight * prompt_nll
    return BatchScore(
        numerator / denominator if denominator else 0.0,
        float(np.mean(scores.correct == scores.positions)) if len(scores.nll) else 1.0,
        float(scores.correct.sum()) / positions if positions else 1.0,
    )


def beta_column(beta: float) -> str:
    """The legacy column for an F-beta score: 1 → "classification/f1.0", 0.5 → ".../f0.5"."""
    return f"classification/f{float(beta)}"


def classification_metrics(
    labels: Sequence[str],
    probs: np.ndarray,
    true_labels: Sequence[str],
    positive_class: str | None,
    betas: Sequence[float],
) -> dict[str, float]:
    """The legacy `classification/*` values on a full validation set.

    Binary (a positive class): accuracy, precision, recall, auroc, auprc, f1.0 and one f{beta}
    per beta, thresholding the positive-class probability at 0.5; undefined scores (a set
    with one class only) are left out. Multiclass: accuracy and weighted_f1_score of the most
    probable class.
    """
    names = np.array(labels, dtype=object)
    truth = np.array(true_labels, dtype=object)
    if positive_class is None:
        predicted = names[probs.argmax(axis=1)]
        return {
            "classification/accuracy": float(metrics.accuracy_score(truth, predicted)),
            "classification/weighted_f1_score": float(
                metrics.f1_score(truth, predicted, average="weighted", zero_division=0)
            ),
        }
    score = probs[:, list(labels).index(positive_class)]
    actual = truth == positive_class
    predicted = score >= 0.5
    out = {
        "classification/accuracy": float(metrics.accuracy_score(actual, predicted)),
        "classification/precision": float(
            metrics.precision_score(actual, predicted, zero_division=0)
        ),
        "classification/recall": float(metrics.recall_score(actual, predicted, zero_division=0)),
    }
    if 0 < actual.sum() < len(actual):
        out["classification/auroc"] = float(metrics.roc_auc_score(actual, score))
        out["classification/auprc"] = float(metrics.average_precision_score(actual, score))
    for beta in [1.0, *(b for b in betas if float(b) != 1.0)]:
        out[beta_column(beta)] = float(
            metrics.fbeta_score(actual, predicted, beta=beta, zero_division=0)
        )
    return out
