"""Held-out evaluation: predictions through the completions API and scikit-learn metrics.

`evaluate_run` (async) writes predictions.jsonl, baseline_predictions.jsonl and evaluation.json
into a run folder; `evaluate_predictions` turns prediction rows into metrics.
"""

from ftkit.evaluate.classes import OTHER, class_probabilities, class_token_paths, match_label
from ftkit.evaluate.metrics import ModelEvaluation, evaluate_predictions
from ftkit.evaluate.predictions import Prediction, read_predictions, write_predictions
from ftkit.evaluate.runner import EvaluationResult, evaluate_run

__all__ = [
    "OTHER",
    "EvaluationResult",
    "ModelEvaluation",
    "Prediction",
    "class_probabilities",
    "class_token_paths",
    "evaluate_predictions",
    "evaluate_run",
    "match_label",
    "read_predictions",
    "write_predictions",
]
