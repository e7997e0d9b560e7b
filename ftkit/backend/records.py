"""What the backend stores: files, jobs (both dialects in one record), events, checkpoints, models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Dialect = Literal["legacy", "jobs"]

# Statuses in which a job still has work to do (the runner picks these up, also after a restart).
ACTIVE_STATUSES = ("validating_files", "pending", "queued", "running")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")


class FileRecord(BaseModel):
    """An uploaded or generated file; its bytes live in the blob folder."""

    id: str
    org: str
    purpose: str
    filename: str
    bytes: int
    created_at: int
    status: str = "processed"
    status_details: str | None = None


class JobError(BaseModel):
    """Why a job failed (jobs dialect `error` object)."""

    code: str
    message: str
    param: str | None = None


class JobRecord(BaseModel):
    """One fine-tune job of either dialect, as persisted."""

    id: str
    org: str
    organization_id: str
    org_slug: str
    dialect: Dialect
    status: str
    model: str = Field(description="Model as shown on the job: base snapshot or fine-tuned name.")
    base_model: str = Field(description="The base model at the root of the lineage.")
    parent_model: str | None = Field(None, description="Fine-tuned model this job continues.")
    training_file: str
    validation_file: str | None = None
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    prompt_loss_weight: float | None = None
    resolved: dict[str, Any] | None = Field(None, description="Hyperparameters once running.")
    compute_classification_metrics: bool = False
    classification_n_classes: int | None = None
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None
    suffix: str | None = None
    seed: int
    metadata: dict[str, str] | None = None
    integrations: list[dict[str, Any]] | None = None
    method_type: str = "supervised"
    model_token: str = Field(description="The 8-character id in jobs-dialect model names.")
    created_at: int
    updated_at: int
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    error: JobError | None = None
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    queued_at: float | None = None
    queue_number: int | None = None
    fail_at_step: int | None = None
    fail_code: str | None = None
    fail_message: str | None = None
    total_steps: int | None = None
    n_train_examples: int | None = None
    pause_count: int = 0
    started_at: float | None = None
    runner: str | None = Field(None, description="The job runner training it (see Store.beat).")
    estimated_finish: int | None = None


class EventRecord(BaseModel):
    """One job event; `key` makes re-runs after a restart idempotent."""

    id: str
    job_id: str
    key: str
    created_at: int
    level: str = "info"
    message: str
    type: str = "message"
    data: dict[str, Any] | None = None


class CheckpointRecord(BaseModel):
    """A model snapshot at an epoch end (jobs dialect; the last 3 are kept)."""

    id: str
    job_id: str
    org: str
    step: int
    epoch: int
    path: str
    model: str
    metrics: dict[str, float | int]
    created_at: int


class ModelRecord(BaseModel):
    """A fine-tuned model that completions can use."""

    id: str
    org: str
    organization_id: str
    job_id: str
    base_model: str
    path: str
    created_at: int
