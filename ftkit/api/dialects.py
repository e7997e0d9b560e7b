"""The two fine-tuning dialects: converting between typed models and wire JSON, nothing else.

A dialect never sends anything; the client owns sending, retrying and error mapping (style R6).

    legacy  /v1/fine-tunes          events without ids, `stream=true` SSE, run key in the suffix
    jobs    /v1/fine_tuning/jobs    events newest first with `after` paging, run key in metadata
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, ClassVar, Protocol

from ftkit.api.models import Checkpoint, FileObject, Job, JobError, JobEvent, JobSpec, JobStatus

log = logging.getLogger(__name__)

RUN_KEY_METADATA = "ftkit_run_key"
_ENDED_BADLY = frozenset({JobStatus.failed, JobStatus.cancelled})
_LEGACY_SUFFIX_MAX = 40


class Dialect(Protocol):
    """Converts jobs and events between ftkit's models and one API dialect's JSON."""

    name: str
    jobs_path: str
    streams_events: bool

    def create_body(self, spec: JobSpec, run_key: str) -> dict[str, Any]:
        """The create request body: only the parameters that are set, with the run key."""
        ...

    def parse_job(self, payload: dict[str, Any]) -> Job:
        """A job object of this dialect as a Job."""
        ...

    def parse_event(self, payload: dict[str, Any], position: int) -> JobEvent:
        """An event; `position` is its 1-based place in the job's history (for legacy ids)."""
        ...

    def has_run_key(self, job: Job, run_key: str) -> bool:
        """Whether a job was created with this run key."""
        ...

    def matches_spec(self, job: Job, spec: JobSpec) -> bool:
        """Whether a job whose run key cannot be seen (yet) was created from this spec."""
        ...


def legacy_key(run_key: str) -> str:
    """The short form of a run key that fits in a legacy suffix: `ftk-` + 10 hex characters."""
    return "ftk-" + hashlib.sha256(run_key.encode()).hexdigest()[:10]


def event_fingerprint(created_at: int, message: str) -> str:
    """A short digest identifying an event that has no id (legacy)."""
    return hashlib.sha256(f"{created_at}\x00{message}".encode()).hexdigest()[:16]


class LegacyDialect:
    """`/v1/fine-tunes` (2021–2024 OpenAI; some compatible servers)."""

    name = "legacy"
    jobs_path = "/fine-tunes"
    streams_events = True

    _STATUSES: ClassVar[dict[str, JobStatus]] = {
        "created": JobStatus.pending,
        "pending": JobStatus.pending,
        "notrunning": JobStatus.pending,
        "running": JobStatus.running,
        "succeeded": JobStatus.succeeded,
        "failed": JobStatus.failed,
        "cancelled": JobStatus.cancelled,
        "canceled": JobStatus.cancelled,
    }

    def create_body(self, spec: JobSpec, run_key: str) -> dict[str, Any]:
        key = legacy_key(run_key)
        user = _slug(spec.suffix or "")[: _LEGACY_SUFFIX_MAX - len(key) - 1]
        fields = spec.model_dump(exclude={"metadata", "suffix", "seed"}, exclude_none=True)
        if spec.seed is not None or spec.metadata:
            log.debug("legacy dialect: seed and metadata are not sent (the API has no such fields)")
        fields["suffix"] = f"{user}-{key}" if user else key
        return fields

    def parse_job(self, payload: dict[str, Any]) -> Job:
        training = _ids(payload.get("training_files"))
        validation = _ids(payload.get("validation_files"))
        status = self._STATUSES.get(str(payload.get("status", "")).lower(), JobStatus.pending)
        error = _job_error(payload.get("error"))
        if error is None and status is JobStatus.failed and payload.get("status_details"):
            error = JobError(message=str(payload["status_details"]))
        return Job(
            id=payload["id"],
            model=payload.get("model"),
            status=status,
            fine_tuned_model=payload.get("fine_tuned_model"),
            training_file=training[0] if training else None,
            validation_file=validation[0] if validation else None,
            result_files=_ids(payload.get("result_files")),
            hyperparameters=dict(
                payload.get("hyperparams") or payload.get("hyperparameters") or {}
            ),
            trained_tokens=payload.get("trained_tokens"),
            seed=payload.get("seed"),
            metadata=_metadata(payload.get("metadata")),
            suffix=payload.get("suffix") or payload.get("user_provided_suffix"),
            error=error,
            created_at=payload.get("created_at"),
            finished_at=payload.get("finished_at")
            or (payload.get("updated_at") if status.terminal else None),
            raw=payload,
        )

    def parse_event(self, payload: dict[str, Any], position: int) -> JobEvent:
        return JobEvent(
            id=payload.get("id") or f"ev-{position}",
            created_at=int(payload.get("created_at") or 0),
            level=payload.get("level") or "info",
            message=payload.get("message") or "",
            type=payload.get("type"),
            data=payload.get("data") or None,
        )

    def has_run_key(self, job: Job, run_key: str) -> bool:
        key = legacy_key(run_key)
        return any(key in (text or "") for text in (job.suffix, job.fine_tuned_model)) or (
            job.metadata.get(RUN_KEY_METADATA) == run_key
        )

    def matches_spec(self, job: Job, spec: JobSpec) -> bool:
        """The real legacy API shows the suffix only in the model name, once training is done.
        Until then a job is recognised by what it was created from: model, files and the
        hyperparameters the spec sets (a failed or cancelled one is never reused this way)."""
        if job.suffix or job.fine_tuned_model or job.status in _ENDED_BADLY:
            return False
        if (job.model, job.training_file, job.validation_file) != (
            spec.model,
            spec.training_file,
            spec.validation_file,
        ):
            return False
        wanted = spec.model_dump(
            include={"n_epochs", "batch_size", "learning_rate_multiplier", "prompt_loss_weight"},
            exclude_none=True,
        )
        return all(job.hyperparameters.get(name) == value for name, value in wanted.items())


class JobsDialect:
    """`/v1/fine_tuning/jobs` (OpenAI since 2023-08, Azure OpenAI, most compatible servers)."""

    name = "jobs"
    jobs_path = "/fine_tuning/jobs"
    streams_events = False

    _STATUSES: ClassVar[dict[str, JobStatus]] = {
        "validating_files": JobStatus.validating,
        "created": JobStatus.pending,
        "pending": JobStatus.pending,
        "notrunning": JobStatus.pending,
        "queued": JobStatus.queued,
        "running": JobStatus.running,
        "paused": JobStatus.paused,
        "succeeded": JobStatus.succeeded,
        "failed": JobStatus.failed,
        "cancelled": JobStatus.cancelled,
        "canceled": JobStatus.cancelled,
    }
    _LEGACY_ONLY = (
        "prompt_loss_weight",
        "compute_classification_metrics",
        "classification_n_classes",
        "classification_positive_class",
        "classification_betas",
    )

    def create_body(self, spec: JobSpec, run_key: str) -> dict[str, Any]:
        ignored = [name for name in self._LEGACY_ONLY if getattr(spec, name) is not None]
        if ignored:
            log.warning("jobs dialect has no %s; not sent", ", ".join(ignored))
        body: dict[str, Any] = {
            "model": spec.model,
            "training_file": spec.training_file,
            "validation_file": spec.validation_file,
            "suffix": spec.suffix,
            "seed": spec.seed,
        }
        body = {key: value for key, value in body.items() if value is not None}
        hyper = {
            name: getattr(spec, name)
            for name in ("n_epochs", "batch_size", "learning_rate_multiplier")
            if getattr(spec, name) is not None
        }
        if hyper:
            body["hyperparameters"] = hyper
        body["metadata"] = {**spec.metadata, RUN_KEY_METADATA: run_key}
        return body

    def parse_job(self, payload: dict[str, Any]) -> Job:
        status = self._STATUSES.get(str(payload.get("status", "")).lower(), JobStatus.pending)
        hyper = payload.get("hyperparameters")
        if not hyper:
            method = payload.get("method") or {}
            hyper = (method.get(method.get("type") or "supervised") or {}).get("hyperparameters")
        return Job(
            id=payload["id"],
            model=payload.get("model"),
            status=status,
            fine_tuned_model=payload.get("fine_tuned_model"),
            training_file=payload.get("training_file"),
            validation_file=payload.get("validation_file"),
            result_files=_ids(payload.get("result_files")),
            hyperparameters=dict(hyper or {}),
            trained_tokens=payload.get("trained_tokens"),
            seed=payload.get("seed"),
            metadata=_metadata(payload.get("metadata")),
            suffix=payload.get("suffix") or payload.get("user_provided_suffix"),
            error=_job_error(payload.get("error")),
            created_at=payload.get("created_at"),
            finished_at=payload.get("finished_at"),
            raw=payload,
        )

    def parse_event(self, payload: dict[str, Any], position: int) -> JobEvent:
        return JobEvent(
            id=payload["id"],
            created_at=int(payload.get("created_at") or 0),
            level=payload.get("level") or "info",
            message=payload.get("message") or "",
            type=payload.get("type"),
            data=payload.get("data") or None,
        )

    def has_run_key(self, job: Job, run_key: str) -> bool:
        return job.metadata.get(RUN_KEY_METADATA) == run_key

    def matches_spec(self, job: Job, spec: JobSpec) -> bool:
        return False  # the run key is always visible in metadata


DIALECTS: dict[str, Dialect] = {"legacy": LegacyDialect(), "jobs": JobsDialect()}


def parse_file(payload: dict[str, Any]) -> FileObject:
    """A file object of any provider (Azure: no `bytes`, status `succeeded`)."""
    status = payload.get("status")
    if status == "succeeded":
        status = "processed"
    return FileObject(
        id=payload["id"],
        filename=payload.get("filename") or "",
        bytes=payload.get("bytes"),
        purpose=payload.get("purpose"),
        status=status,
        status_details=payload.get("status_details"),
        created_at=payload.get("created_at"),
    )


def parse_checkpoint(payload: dict[str, Any]) -> Checkpoint:
    """A checkpoint object."""
    return Checkpoint(
        id=payload["id"],
        created_at=payload.get("created_at"),
        fine_tuned_model_checkpoint=payload.get("fine_tuned_model_checkpoint"),
        fine_tuning_job_id=payload.get("fine_tuning_job_id"),
        step_number=payload.get("step_number"),
        metrics={k: v for k, v in (payload.get("metrics") or {}).items() if _is_number(v)},
    )


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _ids(items: Any) -> list[str]:
    """File ids from a list of ids or file objects; Azure's null means none."""
    if not items:
        return []
    return [item["id"] if isinstance(item, dict) else str(item) for item in items]


def _metadata(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _job_error(value: Any) -> JobError | None:
    """The provider's error, or None for null / an all-null error object."""
    if not isinstance(value, dict) or not any(value.get(k) for k in ("code", "message", "param")):
        return None
    return JobError(code=value.get("code"), message=value.get("message"), param=value.get("param"))
