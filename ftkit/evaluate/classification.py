"""Classification metrics from predictions, all computed by scikit-learn.

Conventions (the report states them too):

* Predictions naming no class count as `<other>`: wrong for accuracy, a false negative for the
  true class in recall, shown as their own column of the confusion matrix. Macro and weighted
  averages are over the classes only.
* Binary tasks: precision, recall, F-beta, ROC AUC, average precision, Brier score and the
  reliability curve use the positive class (config `job.classification.positive_class`, else
  the last class in sorted order). Multiclass: ROC AUC and average precision are macro
  one-vs-rest over the classes present in the expected labels; F-beta is macro; the Brier score
  is scikit-learn's multiclass Brier (mean over examples of the summed squared error over
  classes, range 0..2); the reliability curve is top-label (confidence of the predicted class vs
  whether it was right).
* Probability metrics use the rows that carry class probabilities (from logprobs); without
  logprobs they are left out (None).

scikit-learn is imported where it is used: importing this module (the report model needs its
types) costs nothing; `ftkit run` imports it while the job trains (`ftkit.runs.prefetch`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from ftkit.evaluate.classes import OTHER
from ftkit.evaluate.predictions import Prediction

SCALARS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier",
)
MAX_CURVE_POINTS = 200
RELIABILITY_BINS = 10


class ClassScores(BaseModel):
    """Precision, recall, F1 and support of one class."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


class Curve(BaseModel):
    """A curve to plot: points and, where it has one, its area."""

    name: str
    x: list[float]
    y: list[float]
    area: float | None = None
    counts: list[int] | None = Field(None, description="Reliability: examples per bin.")


class ConfusionMatrix(BaseModel):
    """Rows: expected class; columns: predicted class (then `<other>` if any)."""

    labels: list[str]
    predicted_labels: list[str]
    matrix: list[list[int]]


class ClassificationMetrics(BaseModel):
    """Every classification metric of one model on the evaluation split."""

    n: int
    classes: list[str]
    positive_class: str | None
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    precision: float | None = Field(None, description="Binary: of the positive class.")
    recall: float | None = None
    f1: float | None = None
    fbeta: dict[str, float] = Field(
        default_factory=dict, description="'f{beta}' → F-beta (binary: positive; else macro)."
    )
    per_class: list[ClassScores]
    confusion: ConfusionMatrix
    invalid: int = Field(0, description="Predictions naming no class (<other>).")
    invalid_texts: dict[str, int] = Field(
        default_factory=dict, description="The most frequent <other> answers and their counts."
    )
    n_scored: int = Field(0, description="Rows with class probabilities.")
    roc_auc: float | None = None
    average_precision: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    mean_class_mass: float | None = Field(
        None, description="Mean probability on the classes before renormalising."
    )
    floored_rate: float | None = Field(
        None, description="Share of rows where some class was missing from the top-k."
    )
    roc_curves: list[Curve] = Field(default_factory=list)
    pr_curves: list[Curve] = Field(default_factory=list)
    reliability: Curve | None = None

    def flat(self) -> dict[str, float]:
        """The scalar metrics by name (the names a quality gate can use)."""
        values = {name: getattr(self, name) for name in SCALARS}
        values |= self.fbeta
        values["invalid_rate"] = self.invalid / self.n if self.n else 0.0
        return {name: float(value) for name, value in values.items() if value is not None}


def default_positive_class(classes: Sequence[str], configured: str | None) -> str | None:
    """The positive class of a binary task: the configured one (matched loosely) or the last."""
    if len(classes) != 2:
        return None
    if configured is not None:
        for label in classes:
            if configured in (label, label.strip()) or configured.strip() == label.strip():
                return label
    return sorted(classes)[-1]


def classification_metrics(
    rows: Sequence[Prediction],
    classes: Sequence[str],
    *,
    positive_class: str | None = None,
    betas: Sequence[float] = (),
) -> ClassificationMetrics:
    """Compute every classification metric of `rows` over `classes` (see the module doc)."""
    from sklearn import metrics

    labels = sorted(set(classes) | {row.expected for row in rows})
    binary = len(labels) == 2
    positive = default_positive_class(labels, positive_class) if binary else None
    y_true = [row.expected for row in rows]
    y_pred = [row.predicted if row.predicted in labels else OTHER for row in rows]
    invalid = Counter(
        row.text.strip() for row, pred in zip(rows, y_pred, strict=True) if pred == OTHER
    )

    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    averaged = {
        average: metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )[:3]
        for average in ("macro", "weighted")
    }
    # Binary scores are of the positive class alone: with <other> answers the predictions are
    # not binary any more, so `average="binary"` does not apply; labels=[positive] is the same.
    scored_labels = [positive] if positive is not None else labels
    fbeta = {
        f"f{float(beta)}": float(
            metrics.fbeta_score(
                y_true, y_pred, beta=beta, labels=scored_labels, average="macro", zero_division=0
            )
        )
        for beta in sorted({1.0, *betas})
    }
    predicted_labels = labels + ([OTHER] if invalid else [])
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=predicted_labels)[: len(labels)]
    binary_scores = {}
    if positive is not None:
        p, r, f, _ = metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=[positive], average=None, zero_division=0
        )
        binary_scores = {"precision": float(p[0]), "recall": float(r[0]), "f1": float(f[0])}

    result = ClassificationMetrics(
        n=len(rows),
        classes=labels,
        positive_class=positive,
        accuracy=float(metrics.accuracy_score(y_true, y_pred)) if rows else 0.0,
        precision_macro=float(averaged["macro"][0]),
        recall_macro=float(averaged["macro"][1]),
        f1_macro=float(averaged["macro"][2]),
        precision_weighted=float(averaged["weighted"][0]),
        recall_weighted=float(averaged["weighted"][1]),
        f1_weighted=float(averaged["weighted"][2]),
        fbeta=fbeta,
        per_class=[
            ClassScores(
                label=label,
                precision=float(precision[i]),
                recall=float(recall[i]),
                f1=float(f1[i]),
                support=int(support[i]),
            )
            for i, label in enumerate(labels)
        ],
        confusion=ConfusionMatrix(
            labels=labels, predicted_labels=predicted_labels, matrix=matrix.tolist()
        ),
        invalid=sum(invalid.values()),
        invalid_texts=dict(invalid.most_common(10)),
        **binary_scores,
    )
    scored = [row for row in rows if row.probabilities is not None]
    if scored:
        _add_probability_metrics(result, scored, labels, positive)
    return result


def _add_probability_metrics(
    result: ClassificationMetrics,
    rows: Sequence[Prediction],
    labels: list[str],
    positive: str | None,
) -> None:
    from sklearn import metrics
    from sklearn.preprocessing import label_binarize

    y_true = np.array([row.expected for row in rows], dtype=object)
    proba = np.array(
        [[(row.probabilities or {}).get(label, 0.0) for label in labels] for row in rows]
    )
    # Rows are renormalised already; only rows that lack a class (older files) are rescaled, so
    # rounding noise never breaks ties the curves depend on.
    sums = proba.sum(axis=1, keepdims=True)
    proba = np.where(np.abs(sums - 1.0) > 1e-9, proba / np.clip(sums, 1e-12, None), proba)
    result.n_scored = len(rows)
    masses = [row.class_mass for row in rows if row.class_mass is not None]
    result.mean_class_mass = float(np.mean(masses)) if masses else None
    result.floored_rate = sum(bool(row.floored) for row in rows) / len(rows)
    result.log_loss = float(metrics.log_loss(y_true, proba, labels=labels))

    if positive is not None:
        y_bin = (y_true == positive).astype(int)
        score = proba[:, labels.index(positive)]
        result.brier = float(metrics.brier_score_loss(y_bin, score))
        result.reliability = _reliability(y_bin, score, f"P({positive.strip()})")
        if 0 < y_bin.sum() < len(y_bin):
            result.roc_auc = float(metrics.roc_auc_score(y_bin, score))
            result.average_precision = float(metrics.average_precision_score(y_bin, score))
            result.roc_curves = [_roc(y_bin, score, positive, result.roc_auc)]
            result.pr_curves = [_pr(y_bin, score, positive, result.average_precision)]
        return

    result.brier = float(metrics.brier_score_loss(y_true, proba, labels=labels))
    predicted = np.array(labels, dtype=object)[proba.argmax(axis=1)]
    result.reliability = _reliability(
        (predicted == y_true).astype(int), proba.max(axis=1), "top-label confidence"
    )
    indicator = label_binarize(y_true, classes=labels)
    present = [i for i in range(len(labels)) if 0 < indicator[:, i].sum() < len(rows)]
    if not present:
        return
    result.roc_auc = float(
        metrics.roc_auc_score(indicator[:, present], proba[:, present], average="macro")
    )
    result.average_precision = float(
        metrics.average_precision_score(indicator[:, present], proba[:, present], average="macro")
    )
    for i in present:
        y_bin, score = indicator[:, i], proba[:, i]
        result.roc_curves.append(
            _roc(y_bin, score, labels[i], float(metrics.roc_auc_score(y_bin, score)))
        )
        result.pr_curves.append(
            _pr(y_bin, score, labels[i], float(metrics.average_precision_score(y_bin, score)))
        )


def _roc(y_bin: np.ndarray, score: np.ndarray, label: str, area: float) -> Curve:
    from sklearn import metrics

    fpr, tpr, _ = metrics.roc_curve(y_bin, score)
    return Curve(name=label, x=_thin(fpr), y=_thin(tpr), area=area)


def _pr(y_bin: np.ndarray, score: np.ndarray, label: str, area: float) -> Curve:
    from sklearn import metrics

    precision, recall, _ = metrics.precision_recall_curve(y_bin, score)
    return Curve(name=label, x=_thin(recall), y=_thin(precision), area=area)


def _reliability(y_bin: np.ndarray, score: np.ndarray, name: str) -> Curve:
    from sklearn.calibration import calibration_curve

    fraction, mean_predicted = calibration_curve(
        y_bin, score, n_bins=RELIABILITY_BINS, strategy="uniform"
    )
    # The same bins calibration_curve uses, to show how many examples each point stands for.
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=RELIABILITY_BINS)
    return Curve(
        name=name,
        x=[float(v) for v in mean_predicted],
        y=[float(v) for v in fraction],
        counts=[int(c) for c in counts if c > 0],
    )


def _thin(values: np.ndarray) -> list[float]:
    if len(values) > MAX_CURVE_POINTS:
        values = values[
            np.unique(np.linspace(0, len(values) - 1, MAX_CURVE_POINTS).round().astype(int))
        ]
    return [round(float(v), 6) for v in values]
