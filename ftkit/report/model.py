"""The report of one run as data: computed once, rendered to JSON, Markdown and HTML.

`SCHEMA_VERSION` changes whenever a field changes meaning or goes away; readers check it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError

from ftkit.errors import DataError
from ftkit.evaluate.metrics import ModelEvaluation
from ftkit.evaluate.training import ServerComparison, TrainingSummary

SCHEMA_VERSION = 1


class MetricDelta(BaseModel):
    """A metric of the fine-tuned model beside the baseline's."""

    metric: str
    model: float
    baseline: float | None
    delta: float | None = Field(None, description="model − baseline")
    improved: bool | None = Field(None, description="Better than the baseline, by direction.")


class WorstError(BaseModel):
    """A wrong prediction; the most confident ones are the most instructive."""

    index: int
    line: int
    source: str | None = Field(None, description="The user's data file the example came from.")
    source_line: int | None = Field(None, description="Its line in that file.")
    prompt: str
    expected: str
    predicted: str
    text: str
    confidence: float | None = Field(None, description="Probability of the predicted class.")


class SplitSummary(BaseModel):
    """One split of the prepared data."""

    name: str
    examples: int
    tokens: int | None = None
    label_counts: dict[str, int] = Field(default_factory=dict)


class FindingSummary(BaseModel):
    """A data-check finding, as the report shows it."""

    code: str
    severity: str
    message: str
    count: int


class DataSummary(BaseModel):
    """What data preparation found (from prepared/validation.json)."""

    source: str
    format: str
    task_type: str
    examples: int
    splits: list[SplitSummary]
    classes: list[str]
    label_counts: dict[str, int]
    errors: int
    warnings: int
    findings: list[FindingSummary]
    fixes_applied: list[str]


class CostSummary(BaseModel):
    """The cost estimate from data preparation against the tokens the job actually trained."""

    model: str
    n_epochs: int | None
    price_per_1k_tokens: float | None
    price_source: str | None
    estimated_tokens: int | None
    estimated_usd: float | None
    trained_tokens: int | None
    trained_usd: float | None = Field(None, description="trained_tokens at the same price.")
    ratio: float | None = Field(None, description="trained_tokens / estimated_tokens")
    note: str = ""


class JobSummary(BaseModel):
    """The fine-tune job as job.json recorded it."""

    id: str | None
    base_model: str | None
    fine_tuned_model: str | None
    status: str | None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    trained_tokens: int | None = None
    seconds: float | None = Field(None, description="finished_at − created_at")


class GateResult(BaseModel):
    """Whether the run passed the quality gate, and why."""

    configured: bool
    metric: str | None = None
    value: float | None = None
    min: float | None = None
    beat_champion: bool = False
    champion_run: str | None = None
    champion_value: float | None = None
    passed: bool = False
    promoted: bool = Field(False, description="The run became the experiment's champion.")
    reasons: list[str] = Field(default_factory=list)


class Report(BaseModel):
    """Everything known about one run's outcome."""

    schema_version: int = SCHEMA_VERSION
    generated_at: str
    experiment: str
    run_id: str
    status: str | None = None
    config: dict[str, Any]
    job: JobSummary | None = None
    data: DataSummary | None = None
    cost: CostSummary | None = None
    training: TrainingSummary | None = None
    task_type: str | None = None
    split: str | None = None
    evaluation: ModelEvaluation | None = None
    baseline: ModelEvaluation | None = None
    baseline_placeholder: str | None = Field(
        None, description="Why the baseline is an untrained placeholder (then no deltas)."
    )
    comparison: list[MetricDelta] = Field(default_factory=list)
    references: list[ModelEvaluation] = Field(
        default_factory=list,
        description="Reference rows on the same examples: majority class, TF-IDF + LR.",
    )
    server_comparison: list[ServerComparison] = Field(default_factory=list)
    worst_errors: list[WorstError] = Field(default_factory=list)
    gate: GateResult | None = None
    notes: list[str] = Field(default_factory=list, description="Caveats a reader should know.")

    @property
    def metrics(self) -> dict[str, float]:
        """The fine-tuned model's metrics by name (empty without an evaluation)."""
        return self.evaluation.metrics if self.evaluation else {}


def read_report(path: Path) -> Report:
    """Load a report.json; DataError if it is unreadable or of another schema version."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        msg = f"{path}: cannot read the report ({exc}); rebuild it with `ftkit report RUN`."
        raise DataError(msg) from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        msg = (
            f"{path}: report schema version {version}, this ftkit reads {SCHEMA_VERSION}; "
            "rebuild it with `ftkit report RUN`."
        )
        raise DataError(msg)
    try:
        return Report.model_validate(raw)
    except ValidationError as exc:
        msg = f"{path}: not a valid report ({exc.error_count()} problems); rebuild it."
        raise DataError(msg) from None
