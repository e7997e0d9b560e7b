"""Training curves from the job's result file, and the server's classification metrics.

Both result-file schemas are read by name (legacy `compiled_results.csv` and the jobs dialect's
`step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy`); their columns map onto
one set of series names. Server-side `classification/*` values are taken from the last row that
has them and set beside the client-side numbers computed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from ftkit.results import Cell

SERIES_ALIASES: dict[str, str] = {
    "training_loss": "train_loss",
    "training_token_accuracy": "train_token_accuracy",
    "training_sequence_accuracy": "train_sequence_accuracy",
    "validation_loss": "valid_loss",
    "validation_token_accuracy": "valid_token_accuracy",
    "validation_sequence_accuracy": "valid_sequence_accuracy",
    "train_accuracy": "train_token_accuracy",
    "valid_mean_token_accuracy": "valid_token_accuracy",
    "full_valid_mean_token_accuracy": "full_valid_token_accuracy",
}
SERIES = (
    "train_loss",
    "train_token_accuracy",
    "train_sequence_accuracy",
    "valid_loss",
    "valid_token_accuracy",
    "valid_sequence_accuracy",
    "full_valid_loss",
    "full_valid_token_accuracy",
)
# Server column → the client-side metric it corresponds to.
SERVER_TO_CLIENT: dict[str, str] = {
    "classification/accuracy": "accuracy",
    "classification/precision": "precision",
    "classification/recall": "recall",
    "classification/auroc": "roc_auc",
    "classification/auprc": "average_precision",
    "classification/weighted_f1_score": "f1_weighted",
}


class BestValue(BaseModel):
    """The best value of a series and the step it was reached at."""

    value: float
    step: int


class ServerComparison(BaseModel):
    """A server-side classification metric beside the client-side one."""

    column: str
    server: float
    client_metric: str | None
    client: float | None
    difference: float | None = Field(None, description="client − server")


class TrainingSummary(BaseModel):
    """Training curves per step, final and best values, server-side classification metrics."""

    steps: list[int]
    series: dict[str, list[float | None]] = Field(
        description="Series name → one value per step (None where the file has no value)."
    )
    final: dict[str, float] = Field(description="Last non-empty value of each series.")
    best: dict[str, BestValue] = Field(description="Lowest loss / highest accuracy per series.")
    server_classification: dict[str, float] = Field(default_factory=dict)
    server_classification_step: int | None = None
    other_columns: list[str] = Field(default_factory=list)


def training_summary(rows: Sequence[Mapping[str, Cell]]) -> TrainingSummary:
    """Summarise result-file rows (column name → value) into curves, final and best values."""
    steps = [int(row.get("step") or position + 1) for position, row in enumerate(rows)]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    series: dict[str, list[float | None]] = {}
    for column in columns:
        name = SERIES_ALIASES.get(column, column)
        if name in SERIES:
            series[name] = [_number(row.get(column)) for row in rows]
    series = {name: series[name] for name in SERIES if name in series}
    final: dict[str, float] = {}
    best: dict[str, BestValue] = {}
    for name, values in series.items():
        points = [(v, s) for v, s in zip(values, steps, strict=True) if v is not None]
        if not points:
            continue
        final[name] = points[-1][0]
        choose = min if name.endswith("loss") else max
        value, step = choose(points, key=lambda point: point[0])
        best[name] = BestValue(value=value, step=step)

    server: dict[str, float] = {}
    server_step = None
    for row, step in zip(rows, steps, strict=True):
        found = {
            column: number
            for column, value in row.items()
            if column.startswith("classification/") and (number := _number(value)) is not None
        }
        if found:
            server, server_step = found, step
    known = {"step", "elapsed_tokens", "elapsed_examples", *SERIES_ALIASES, *SERIES}
    other = [c for c in columns if c not in known and not c.startswith("classification/")]
    return TrainingSummary(
        steps=steps,
        series=series,
        final=final,
        best=best,
        server_classification=server,
        server_classification_step=server_step,
        other_columns=other,
    )


def compare_with_server(
    server: Mapping[str, float], client: Mapping[str, float]
) -> list[ServerComparison]:
    """Each server `classification/*` value beside the matching client-side metric."""
    rows = []
    for column, value in server.items():
        name = SERVER_TO_CLIENT.get(column)
        if name is None and column.startswith("classification/f"):
            name = column.removeprefix("classification/")  # f1.0, f0.5, … as named here
        mine = client.get(name) if name else None
        rows.append(
            ServerComparison(
                column=column,
                server=value,
                client_metric=name if mine is not None else None,
                client=mine,
                difference=None if mine is None else mine - value,
            )
        )
    return rows


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
