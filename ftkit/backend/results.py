"""Result files: the legacy `compiled_results.csv` and the jobs dialect's step CSV.

Both are built from the per-step metrics the trainer reported (`StepMetrics` as dicts). Empty
cells are written as nothing between commas.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

LEGACY_TRAIN_COLUMNS = (
    "step",
    "elapsed_tokens",
    "elapsed_examples",
    "training_loss",
    "training_sequence_accuracy",
    "training_token_accuracy",
)
LEGACY_VALID_COLUMNS = (
    "validation_loss",
    "validation_sequence_accuracy",
    "validation_token_accuracy",
)
# legacy column → StepMetrics field
_LEGACY_FIELDS = {
    "step": "step",
    "elapsed_tokens": "elapsed_tokens",
    "elapsed_examples": "elapsed_examples",
    "training_loss": "train_loss",
    "training_sequence_accuracy": "train_sequence_accuracy",
    "training_token_accuracy": "train_token_accuracy",
    "validation_loss": "valid_loss",
    "validation_sequence_accuracy": "valid_sequence_accuracy",
    "validation_token_accuracy": "valid_token_accuracy",
}
JOBS_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")
_JOBS_FIELDS = {
    "step": "step",
    "train_loss": "train_loss",
    "train_accuracy": "train_token_accuracy",
    "valid_loss": "valid_loss",
    "valid_mean_token_accuracy": "valid_token_accuracy",
}


def _cell(value: Any, digits: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, digits)) if digits is not None else repr(value)
    return str(value)


def legacy_csv(steps: Sequence[dict[str, Any]], *, has_validation: bool) -> bytes:
    """`compiled_results.csv`: training columns, validation columns when there is a validation
    file, then the `classification/*` columns the trainer reported, in its order."""
    columns = list(LEGACY_TRAIN_COLUMNS)
    if has_validation:
        columns += LEGACY_VALID_COLUMNS
    classification: list[str] = []
    for step in steps:
        for key in step.get("classification") or {}:
            if key not in classification:
                classification.append(key)
    lines = [",".join(columns + classification)]
    for step in steps:
        scores = step.get("classification") or {}
        cells = [_cell(step.get(_LEGACY_FIELDS[c])) for c in columns]
        cells += [_cell(scores.get(c)) for c in classification]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def jobs_csv(steps: Sequence[dict[str, Any]], *, encode_base64: bool) -> bytes:
    """`step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy`, 5 decimals;
    base64-encoded when the real API's observed behaviour is emulated."""
    lines = [",".join(JOBS_COLUMNS)]
    for step in steps:
        lines.append(",".join(_cell(step.get(_JOBS_FIELDS[c]), 5) for c in JOBS_COLUMNS))
    data = ("\n".join(lines) + "\n").encode()
    return base64.b64encode(data) if encode_base64 else data


def metrics_event_data(step: dict[str, Any], total_steps: int) -> dict[str, Any]:
    """The `data` of a jobs-dialect `metrics` event (and of a checkpoint's `metrics`)."""
    data: dict[str, Any] = {
        "step": step["step"],
        "train_loss": step.get("train_loss"),
        "train_mean_token_accuracy": step.get("train_token_accuracy"),
        "total_steps": total_steps,
    }
    optional = {
        "valid_loss": "valid_loss",
        "valid_mean_token_accuracy": "valid_token_accuracy",
        "full_valid_loss": "full_valid_loss",
        "full_valid_mean_token_accuracy": "full_valid_token_accuracy",
    }
    for key, field in optional.items():
        if step.get(field) is not None:
            data[key] = step[field]
    return data


def metrics_message(data: dict[str, Any]) -> str:
    """`Step 300/300: training loss=0.15, validation loss=0.27, full validation loss=0.40`."""
    parts = [f"training loss={data['train_loss']:.2f}"]
    if "valid_loss" in data:
        parts.append(f"validation loss={data['valid_loss']:.2f}")
    if "full_valid_loss" in data:
        parts.append(f"full validation loss={data['full_valid_loss']:.2f}")
    return f"Step {data['step']}/{data['total_steps']}: " + ", ".join(parts)
