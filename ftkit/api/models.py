"""The typed objects of the API client: one model per concept, whatever the dialect.

Both dialects (`legacy` /v1/fine-tunes and `jobs` /v1/fine_tuning/jobs) are converted into these
models by `ftkit.api.dialects`, so callers never branch on the dialect.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ftkit.config import JobConfig


class JobStatus(enum.StrEnum):
    """A fine-tune job's state, normalised over both dialects."""

    pending = "pending"
    validating = "validating"
    queued = "queued"
    running = "running"
    paused = "paused"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once the job can no longer change (succeeded, failed or cancelled)."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileObject(_Model):
    """An uploaded file (training data or a result file)."""

    id: str
    filename: str
    bytes: int | None = None
    purpose: str | None = None
    status: str | None = None
    status_details: str | None = None
    created_at: int | None = None


class JobError(_Model):
    """Why a job failed, as the provider said it."""

    code: str | None = None
    message: str | None = None
    param: str | None = None


class Job(_Model):
    """A fine-tune job."""

    id: str
    model: str | None = None
    status: JobStatus
    fine_tuned_model: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    result_files: list[str] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    trained_tokens: int | None = None
    seed: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    suffix: str | None = None
    error: JobError | None = None
    created_at: int | None = None
    finished_at: int | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class JobEvent(_Model):
    """One event of a job; `id` is synthesised for legacy events, which have none."""

    id: str
    created_at: int
    level: str = "info"
    message: str
    type: str | None = None
    data: dict[str, Any] | None = None


class Checkpoint(_Model):
    """A checkpoint saved at the end of an epoch (jobs dialect)."""

    id: str
    created_at: int | None = None
    fine_tuned_model_checkpoint: str | None = None
    fine_tuning_job_id: str | None = None
    step_number: int | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)


class EventCursor(_Model):
    """Where a follow stopped; persist it (`model_dump_json`) and pass it back to resume.

    `seen` counts the events already delivered; `last_id` is the newest delivered event's id
    (a synthesised one in the legacy dialect) and `last_fingerprint` its created_at + message
    digest, which lets a legacy replay be checked before events are skipped.
    """

    job_id: str
    seen: int = 0
    last_id: str | None = None
    last_created_at: int | None = None
    last_fingerprint: str | None = None


class FollowUpdate(_Model):
    """One step of following a job: a new event, the job's status then, and the cursor after it."""

    event: JobEvent
    job_status: JobStatus
    cursor: EventCursor


class JobSpec(_Model):
    """What to train: the parameters of a job create call. Unset values are never sent."""

    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    n_epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    prompt_loss_weight: float | None = None
    compute_classification_metrics: bool | None = None
    classification_n_classes: int | None = None
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None
    seed: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_config(
        cls, job: JobConfig, training_file: str, validation_file: str | None = None
    ) -> JobSpec:
        """Build the spec of the job a config asks for, on already uploaded files."""
        hp = job.hyperparameters
        cl = job.classification
        return cls(
            model=job.model,
            training_file=training_file,
            validation_file=validation_file,
            suffix=job.suffix,
            n_epochs=hp.n_epochs,
            batch_size=hp.batch_size,
            learning_rate_multiplier=hp.learning_rate_multiplier,
            prompt_loss_weight=hp.prompt_loss_weight,
            compute_classification_metrics=cl.compute_metrics or None,
            classification_n_classes=cl.n_classes if cl.compute_metrics else None,
            classification_positive_class=cl.positive_class if cl.compute_metrics else None,
            classification_betas=cl.betas if cl.compute_metrics else None,
            seed=job.seed,
            metadata=dict(job.metadata),
        )


class Logprobs(_Model):
    """Per-token log probabilities of a completion choice."""

    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(_Model):
    """One choice of a completions answer; `index` = prompt position * n + choice number."""

    index: int
    text: str
    finish_reason: str | None = None
    logprobs: Logprobs | None = None


class ChatChoice(_Model):
    """One choice of a chat completions answer."""

    index: int
    content: str | None
    role: str = "assistant"
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class Model(_Model):
    """A model the provider serves."""

    id: str
    created: int | None = None
    owned_by: str | None = None
