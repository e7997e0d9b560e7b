"""Result files of fine-tune jobs: download, parse (both schemas, plain or base64), summarise.

Schemas:
    legacy  compiled_results.csv: step, elapsed_tokens, elapsed_examples, training_loss,
            training_sequence_accuracy, training_token_accuracy, validation_* and classification/*
    jobs    step, train_loss, train_accuracy, valid_loss, valid_mean_token_accuracy
Columns are addressed by name; unknown extra columns are kept; empty cells are None.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ftkit.errors import DataError

if TYPE_CHECKING:
    from ftkit.api import Client, Job

Cell = float | str | None

# the same quantity under each schema's name, first match wins
TRAIN_LOSS = ("training_loss", "train_loss")
TRAIN_ACCURACY = ("training_token_accuracy", "train_accuracy", "train_mean_token_accuracy")
TRAIN_SEQUENCE_ACCURACY = ("training_sequence_accuracy",)
VALID_LOSS = ("validation_loss", "valid_loss")
VALID_ACCURACY = ("validation_token_accuracy", "valid_mean_token_accuracy")
VALID_SEQUENCE_ACCURACY = ("validation_sequence_accuracy",)
FULL_VALID_LOSS = ("full_valid_loss",)
FULL_VALID_ACCURACY = ("full_valid_mean_token_accuracy",)
CLASSIFICATION_PREFIX = "classification/"


class ResultsTable(BaseModel):
    """A result file as typed rows: numbers as floats, empty cells as None."""

    schema_name: Literal["legacy", "jobs", "unknown"]
    columns: list[str]
    rows: list[dict[str, Cell]] = Field(default_factory=list)

    def column(self, *names: str) -> list[float | None]:
        """The values of the first of `names` that exists (None everywhere if none does)."""
        name = next((n for n in names if n in self.columns), None)
        if name is None:
            return [None] * len(self.rows)
        return [_number(row.get(name)) for row in self.rows]


class ResultsSummary(BaseModel):
    """Final and best values of the main metrics; None when the file has no such column."""

    schema_name: Literal["legacy", "jobs", "unknown"]
    steps: int
    final_step: int | None = None
    final_train_loss: float | None = None
    best_train_loss: float | None = None
    final_train_accuracy: float | None = None
    best_train_accuracy: float | None = None
    final_valid_loss: float | None = None
    best_valid_loss: float | None = None
    final_valid_accuracy: float | None = None
    best_valid_accuracy: float | None = None
    final_full_valid_loss: float | None = None
    final_full_valid_accuracy: float | None = None
    classification: dict[str, float] = Field(
        default_factory=dict,
        description="Last non-empty value of each classification/* column, keyed without prefix.",
    )


def decode_results(content: bytes) -> str:
    """The CSV text of a result file, decoding base64 when the provider sent it that way."""
    text = content.decode("utf-8-sig", errors="replace").strip()
    if text and "," not in text.splitlines()[0]:
        try:
            decoded = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            pass
        else:
            return decoded.decode("utf-8-sig", errors="replace").strip()
    return text


def parse_results(content: bytes) -> ResultsTable:
    """Parse a result CSV of either schema, plain or base64-encoded."""
    text = decode_results(content)
    if not text:
        raise DataError("The result file is empty; the job may not have finished training.")
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader)]
    if "step" not in header:
        raise DataError(
            f"The result file has no `step` column (columns: {', '.join(header)}); "
            "it is not a fine-tune result CSV."
        )
    rows: list[dict[str, Cell]] = []
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise DataError(
                f"Result file line {line_no}: {len(values)} cells for {len(header)} columns."
            )
        values += [""] * (len(header) - len(values))
        rows.append({name: _cell(value) for name, value in zip(header, values, strict=True)})
    return ResultsTable(schema_name=_schema(header), columns=header, rows=rows)


def summarize(table: ResultsTable) -> ResultsSummary:
    """Final (last non-empty) and best (min loss, max accuracy) values of the main metrics."""
    steps = [v for v in table.column("step") if v is not None]
    classification: dict[str, float] = {}
    for name in table.columns:
        if name.startswith(CLASSIFICATION_PREFIX):
            last = _last(table.column(name))
            if last is not None:
                classification[name.removeprefix(CLASSIFICATION_PREFIX)] = last
    return ResultsSummary(
        schema_name=table.schema_name,
        steps=len(table.rows),
        final_step=int(steps[-1]) if steps else None,
        final_train_loss=_last(table.column(*TRAIN_LOSS)),
        best_train_loss=_best(table.column(*TRAIN_LOSS), min),
        final_train_accuracy=_last(table.column(*TRAIN_ACCURACY)),
        best_train_accuracy=_best(table.column(*TRAIN_ACCURACY), max),
        final_valid_loss=_last(table.column(*VALID_LOSS)),
        best_valid_loss=_best(table.column(*VALID_LOSS), min),
        final_valid_accuracy=_last(table.column(*VALID_ACCURACY)),
        best_valid_accuracy=_best(table.column(*VALID_ACCURACY), max),
        final_full_valid_loss=_last(table.column(*FULL_VALID_LOSS)),
        final_full_valid_accuracy=_last(table.column(*FULL_VALID_ACCURACY)),
        classification=classification,
    )


def fetch_results(client: Client, job: Job) -> ResultsTable:
    """Download and parse the job's (first) result file."""
    file_id = result_file_id(job)
    return parse_results(client.files.content(file_id))


def result_file_id(job: Job) -> str:
    """The id of the job's first result file; DataError when it has none yet."""
    if not job.result_files:
        raise DataError(
            f"Job {job.id} has no result file (status {job.status}); results appear once it "
            "succeeded."
        )
    return job.result_files[0]


def _schema(header: list[str]) -> Literal["legacy", "jobs", "unknown"]:
    if "training_loss" in header:
        return "legacy"
    if "train_loss" in header:
        return "jobs"
    return "unknown"


def _cell(value: str) -> Cell:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return None if math.isnan(number) else number


def _number(value: Cell) -> float | None:
    return value if isinstance(value, float) else None


def _last(values: list[float | None]) -> float | None:
    return next((v for v in reversed(values) if v is not None), None)


def _best(values: list[float | None], pick: Callable[[list[float]], float]) -> float | None:
    present = [v for v in values if v is not None]
    return pick(present) if present else None


def full_validation_points(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The epoch-end whole-validation-set figures carried by metrics events, as result rows.

    The jobs dialect's results file has only the per-batch `valid_*` columns; its `full_valid_*`
    arrive in the events (and checkpoints), so they are read from there."""
    return [
        {
            "step": data.get("step"),
            "full_valid_loss": data["full_valid_loss"],
            "full_valid_mean_token_accuracy": data.get("full_valid_mean_token_accuracy"),
        }
        for event in events
        if (data := event.get("data") or {}).get("full_valid_loss") is not None
    ]
