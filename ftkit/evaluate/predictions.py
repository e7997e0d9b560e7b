"""One model's answers on the evaluation split, as rows of predictions.jsonl.

Each row keeps everything a report needs (expected, predicted, class probabilities, the raw
completion), so metrics can be recomputed from the file without calling the API again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
from pydantic import BaseModel, Field

from ftkit.errors import DataError
from ftkit.runs.atomic import write_bytes_atomic

PREDICTIONS_FILE = "predictions.jsonl"
BASELINE_PREDICTIONS_FILE = "baseline_predictions.jsonl"


class Prediction(BaseModel):
    """A model's answer to one evaluation example."""

    index: int = Field(description="0-based position in the evaluation split.")
    line: int = Field(description="1-based line of the example in the split's JSONL file.")
    prompt: str = Field(description="The prompt (chat: the last user message).")
    expected: str = Field(description="The reference completion, without the stop sequence.")
    predicted: str = Field(
        description="Classification: the class named, or '<other>'. Otherwise the answer text."
    )
    text: str = Field(description="The raw completion text as the API returned it.")
    finish_reason: str | None = None
    probabilities: dict[str, float] | None = Field(
        None, description="Renormalised class probabilities from logprobs (classification)."
    )
    class_mass: float | None = Field(
        None, description="Probability mass on the classes before renormalising."
    )
    floored: list[str] = Field(
        default_factory=list, description="Classes missing from the top-k (floor probability)."
    )


def write_predictions(rows: Iterable[Prediction], path: Path) -> Path:
    """Write rows as JSON lines, atomically (readers never see half a file)."""
    write_bytes_atomic(path, b"".join(orjson.dumps(row.model_dump()) + b"\n" for row in rows))
    return path


def read_predictions(path: Path) -> list[Prediction]:
    """Read predictions.jsonl; a broken line raises DataError naming the file and line."""
    rows = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(Prediction.model_validate(orjson.loads(line)))
            except (orjson.JSONDecodeError, ValueError) as exc:
                msg = f"{path}:{number}: not a prediction row ({exc}); re-run the evaluation."
                raise DataError(msg) from None
    return rows
