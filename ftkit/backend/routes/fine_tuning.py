"""`/v1/fine_tuning/jobs`: create, list, retrieve, cancel, pause, resume, events, checkpoints.

Chosen where the reference is silent: pause works on validating/queued/running jobs and resume
on paused ones (400 otherwise); cancel, pause and resume of a finished job answer 400
`Job has already completed: <id> (<status>)`. A paused job resumes by re-running its training
from the start with the same seed (identical steps; events already recorded are not repeated).
Job metadata `{"ftkit_fail_at_step": "N"}` makes the job fail at step N (fault injection);
`{"ftkit_lm_method": "full"}` fully fine-tunes a real language model (default "lora"; any other
value is refused at create).
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ftkit.backend import lifecycle
from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import bad_request, no_such
from ftkit.backend.idempotency import IdempotencyKey, create_once, request_fingerprint
from ftkit.backend.jobs_common import (
    MAX_SEED,
    already_finished,
    cancel_job,
    new_job,
    require_file,
)
from ftkit.backend.records import TERMINAL_STATUSES, CheckpointRecord, EventRecord, JobRecord
from ftkit.backend.state import BackendState
from ftkit.backend.training.transformer import method_error

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine_tuning"])
FAIL_AT_STEP_KEY = "ftkit_fail_at_step"


class Hyperparameters(BaseModel):
    """`auto` or a number for each."""

    model_config = ConfigDict(extra="forbid")

    batch_size: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = "auto"
    learning_rate_multiplier: Literal["auto"] | Annotated[float, Field(gt=0)] = "auto"
    n_epochs: Literal["auto"] | Annotated[int, Field(ge=1, le=50)] = "auto"


class Supervised(BaseModel):
    """`method.supervised`."""

    hyperparameters: Hyperparameters | None = None


class Method(BaseModel):
    """`method`; only supervised training is implemented."""

    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: Supervised | None = None
    dpo: dict[str, Any] | None = None
    reinforcement: dict[str, Any] | None = None


class WandbIntegration(BaseModel):
    """`integrations[].wandb` (accepted and echoed; nothing is sent anywhere)."""

    project: str
    name: str | None = None
    entity: str | None = None
    tags: list[str] | None = None


class Integration(BaseModel):
    """One integration."""

    type: Literal["wandb"]
    wandb: WandbIntegration


class JobCreate(BaseModel):
    """`CreateFineTuningJobRequest` (openai-api.md §5.2)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    suffix: str | None = Field(None, min_length=1, max_length=64)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    integrations: list[Integration] | None = Field(None, max_length=5)
    metadata: (
        dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] | None
    ) = Field(None, max_length=16)


def _value(value: Any) -> Any:
    return None if value == "auto" else value


def job_object(job: JobRecord) -> dict[str, Any]:
    """A `fine_tuning.job` object; hyperparameters stay "auto" until training starts."""
    resolved = job.resolved or {}
    hyper = {
        "batch_size": job.batch_size or resolved.get("batch_size") or "auto",
        "learning_rate_multiplier": job.learning_rate_multiplier
        or resolved.get("learning_rate_multiplier")
        or "auto",
        "n_epochs": job.n_epochs or resolved.get("n_epochs") or "auto",
    }
    return {
        "object": "fine_tuning.job",
        "id": job.id,
        "model": job.model,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "fine_tuned_model": job.fine_tuned_model,
        "organization_id": job.organization_id,
        "result_files": job.result_files,
        "status": job.status,
        "validation_file": job.validation_file,
        "training_file": job.training_file,
        "hyperparameters": hyper,
        "trained_tokens": job.trained_tokens,
        "error": job.error.model_dump() if job.error else None,
        "user_provided_suffix": job.suffix,
        "seed": job.seed,
        "estimated_finish": job.estimated_finish if job.status == "running" else None,
        "integrations": job.integrations or [],
        "metadata": job.metadata,
        "method": {"type": job.method_type, job.method_type: {"hyperparameters": hyper}},
    }


def event_object(event: EventRecord) -> dict[str, Any]:
    """A `fine_tuning.job.event`."""
    return {
        "object": "fine_tuning.job.event",
        "id": event.id,
        "created_at": event.created_at,
        "level": event.level,
        "message": event.message,
        "type": event.type,
        "data": event.data if event.data is not None else {},
    }


def checkpoint_object(checkpoint: CheckpointRecord) -> dict[str, Any]:
    """A `fine_tuning.job.checkpoint`."""
    return {
        "object": "fine_tuning.job.checkpoint",
        "id": checkpoint.id,
        "created_at": checkpoint.created_at,
        "fine_tuned_model_checkpoint": checkpoint.model,
        "fine_tuning_job_id": checkpoint.job_id,
        "step_number": checkpoint.step,
        "metrics": {"step": checkpoint.step, **checkpoint.metrics},
    }


def _get(state: BackendState, org: OrgDep, job_id: str) -> JobRecord:
    job = state.store.get_job(job_id, org.id)
    if job is None or job.dialect != "jobs":
        raise no_such("FineTuningJob", job_id)
    return job


def _hyperparameters(body: JobCreate) -> Hyperparameters:
    if body.method is not None:
        if body.method.type != "supervised":
            raise bad_request(
                f"Method '{body.method.type}' is not supported by this server; use 'supervised'.",
                param="method.type",
            )
        if body.method.supervised and body.method.supervised.hyperparameters:
            return body.method.supervised.hyperparameters
    return body.hyperparameters or Hyperparameters()


def _fail_at_step(metadata: dict[str, str] | None) -> int | None:
    raw = (metadata or {}).get(FAIL_AT_STEP_KEY)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(
            f"metadata.{FAIL_AT_STEP_KEY} must be a positive integer.", param="metadata"
        )
    return int(raw)


@router.post("")
def create_job(
    body: JobCreate, state: StateDep, org: OrgDep, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    """Create a job; it starts in `validating_files` (an `Idempotency-Key` seen before with the
    same body returns that job instead)."""
    hyper = _hyperparameters(body)
    require_file(state, org, body.training_file, "training_file")
    if body.validation_file is not None:
        require_file(state, org, body.validation_file, "validation_file")
    fail_at = _fail_at_step(body.metadata)
    if (problem := method_error(body.metadata)) is not None:
        raise bad_request(problem, param="metadata")
    fingerprint = request_fingerprint("POST /v1/fine_tuning/jobs", body)
    job = create_once(
        state,
        org,
        idempotency_key,
        fingerprint,
        lambda: new_job(
            state,
            org,
            "jobs",
            model=body.model,
            training_file=body.training_file,
            validation_file=body.validation_file,
            n_epochs=_value(hyper.n_epochs),
            batch_size=_value(hyper.batch_size),
            learning_rate_multiplier=_value(hyper.learning_rate_multiplier),
            suffix=body.suffix,
            seed=body.seed if body.seed is not None else secrets.randbelow(MAX_SEED),
            metadata=body.metadata,
            integrations=[i.model_dump() for i in body.integrations] if body.integrations else None,
            fail_at_step=fail_at,
            fail_message=f"The job failed at step {fail_at} (injected by metadata)."
            if fail_at
            else None,
        ),
    )
    return job_object(job)


@router.get("")
def list_jobs(
    request: Request,
    state: StateDep,
    org: OrgDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    """Jobs newest first; `metadata[key]=value` query parameters filter."""
    wanted = {
        key[len("metadata[") : -1]: value
        for key, value in request.query_params.multi_items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    jobs = [
        j
        for j in state.store.list_jobs(org.id, "jobs", after=after)
        if all((j.metadata or {}).get(k) == v for k, v in wanted.items())
    ]
    page = jobs[:limit]
    return {"object": "list", "data": [job_object(j) for j in page], "has_more": len(jobs) > limit}


@router.get("/{job_id}")
def retrieve_job(job_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """One job."""
    return job_object(_get(state, org, job_id))


@router.post("/{job_id}/cancel")
def cancel(job_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Cancel a job that has not finished."""
    return job_object(cancel_job(state, _get(state, org, job_id)))


@router.post("/{job_id}/pause")
def pause(job_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Pause a validating, queued or running job at its next step."""
    job = _get(state, org, job_id)
    with state.store.transaction():
        updated = state.store.update_job(
            job.id,
            expect=("validating_files", "queued", "running"),
            status="paused",
            pause_count=job.pause_count + 1,
        )
        if updated is None:
            raise _cannot(job, "pause")
        lifecycle.paused(state.store, updated, updated.pause_count)
    state.runner.stop_job(job.id)
    return job_object(updated)


@router.post("/{job_id}/resume")
def resume(job_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Resume a paused job: back to `queued`, then training re-runs deterministically."""
    job = _get(state, org, job_id)
    with state.store.transaction():
        updated = state.store.update_job(
            job.id,
            expect=("paused",),
            status="validating_files" if job.n_train_examples is None else "queued",
            queued_at=time.time(),
        )
        if updated is None:
            raise _cannot(job, "resume")
        lifecycle.resumed(state.store, updated, updated.pause_count)
    return job_object(updated)


def _cannot(job: JobRecord, action: str) -> Exception:
    if job.status in TERMINAL_STATUSES:
        return already_finished(job)
    return bad_request(f"Cannot {action} a job in status {job.status}: {job.id}.", param="id")


@router.get("/{job_id}/events")
def list_events(
    job_id: str,
    state: StateDep,
    org: OrgDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=1000),
) -> dict[str, Any]:
    """Events newest first; `after` an event id pages to older ones (an unknown id is an empty
    page, as for files and jobs)."""
    job = _get(state, org, job_id)
    events = [e for _, e in reversed(state.store.events(job.id))]
    if after is not None:
        cursor = state.store.event_seq(after)
        events = [e for seq, e in reversed(state.store.events(job.id)) if seq < (cursor or 0)]
    page = events[:limit]
    return {
        "object": "list",
        "data": [event_object(e) for e in page],
        "has_more": len(events) > limit,
    }


@router.get("/{job_id}/checkpoints")
def list_checkpoints(
    job_id: str,
    state: StateDep,
    org: OrgDep,
    after: str | None = None,
    limit: int = Query(10, ge=1, le=100),
) -> dict[str, Any]:
    """Epoch checkpoints newest first (the last 3 are kept)."""
    job = _get(state, org, job_id)
    checkpoints = state.store.checkpoints(job.id)
    if after is not None:
        ids = [c.id for c in checkpoints]
        checkpoints = checkpoints[ids.index(after) + 1 :] if after in ids else []
    page = checkpoints[:limit]
    return {
        "object": "list",
        "data": [checkpoint_object(c) for c in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": len(checkpoints) > limit,
    }
