"""One model's metrics from its predictions: classification ones for class data, else free text."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from ftkit.config import ExperimentConfig
from ftkit.data.models import PreparedData
from ftkit.evaluate.classes import strip_stop
from ftkit.evaluate.classification import ClassificationMetrics, classification_metrics
from ftkit.evaluate.predictions import Prediction
from ftkit.evaluate.text import TextMetrics, text_metrics

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "invalid_rate", "empty_rate"})


class ModelEvaluation(BaseModel):
    """One model's metrics on the evaluation split."""

    model: str
    predictions_file: str
    n: int
    classification: ClassificationMetrics | None = None
    text: TextMetrics | None = None
    metrics: dict[str, float] = Field(description="Every scalar metric by name.")


def evaluate_predictions(
    rows: Sequence[Prediction],
    *,
    model: str,
    predictions_file: str,
    classes: Sequence[str],
    positive_class: str | None = None,
    betas: Sequence[float] = (),
) -> ModelEvaluation:
    """Classification metrics when there are classes, otherwise free-text metrics."""
    if classes:
        scores = classification_metrics(rows, classes, positive_class=positive_class, betas=betas)
        return ModelEvaluation(
            model=model,
            predictions_file=predictions_file,
            n=len(rows),
            classification=scores,
            metrics=scores.flat(),
        )
    text = text_metrics(rows)
    return ModelEvaluation(
        model=model, predictions_file=predictions_file, n=len(rows), text=text, metrics=text.flat()
    )


def headline_metrics(
    rows: Sequence[Prediction], prepared: PreparedData, config: ExperimentConfig
) -> dict[str, float]:
    """The scalar metrics of `rows` under the run's data and config."""
    return evaluate_predictions(
        rows,
        model="",
        predictions_file="",
        classes=class_labels(prepared),
        positive_class=config.job.classification.positive_class,
        betas=config.job.classification.betas or (),
    ).metrics


def class_labels(prepared: PreparedData) -> list[str]:
    """The classes of a classification dataset, without the stop sequence; else []."""
    if prepared.task_type != "classification":
        return []
    return sorted({strip_stop(label, prepared.completion_stop) for label in prepared.classes})


def is_better(metric: str, value: float, other: float) -> bool:
    """Whether `value` beats `other` for this metric (losses and error rates: lower)."""
    return value < other if metric in LOWER_IS_BETTER else value > other
