"""Legacy `/v1/fine-tunes`: create, list, retrieve, cancel, events (list or server-sent events).

Classification rules (the real texts are unconfirmed; these are ours):
`compute_classification_metrics` needs a `validation_file` and either
`classification_n_classes` or `classification_positive_class`; a positive class means binary
(n_classes 2); `classification_betas` only for binary.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import bad_request, no_such
from ftkit.backend.idempotency import IdempotencyKey, create_once, request_fingerprint
from ftkit.backend.jobs_common import MAX_SEED, cancel_job, new_job, require_file
from ftkit.backend.records import TERMINAL_STATUSES, EventRecord, JobRecord
from ftkit.backend.routes.files import file_object
from ftkit.backend.state import BackendState

router = APIRouter(prefix="/v1/fine-tunes", tags=["fine-tunes"])
SSE_POLL_S = 0.05
DEFAULT_PROMPT_LOSS_WEIGHT = 0.01
DEFAULT_N_EPOCHS = 4


class FineTuneCreate(BaseModel):
    """`CreateFineTuneRequest` (openai-api.md §3.2)."""

    model_config = ConfigDict(extra="forbid")

    training_file: str
    validation_file: str | None = None
    model: str | None = "curie"
    n_epochs: int | None = Field(None, ge=1, le=50)
    batch_size: int | None = Field(None, ge=1, le=256)
    learning_rate_multiplier: float | None = Field(None, gt=0)
    prompt_loss_weight: float | None = Field(None, ge=0)
    compute_classification_metrics: bool | None = False
    classification_n_classes: int | None = Field(None, ge=2)
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None
    suffix: str | None = Field(None, min_length=1, max_length=40)


def _check_classification(body: FineTuneCreate) -> int | None:
    """Enforce the classification rules; returns the number of classes."""
    n_classes = body.classification_n_classes
    if body.classification_positive_class is not None:
        if n_classes not in (None, 2):
            raise bad_request(
                "classification_positive_class is only for binary classification; "
                "classification_n_classes must be 2 or omitted.",
                param="classification_positive_class",
            )
        n_classes = 2
    if body.classification_betas is not None and n_classes != 2:
        raise bad_request(
            "classification_betas is only used for binary classification; also pass "
            "classification_positive_class.",
            param="classification_betas",
        )
    if body.compute_classification_metrics:
        if body.validation_file is None:
            raise bad_request(
                "compute_classification_metrics requires a validation_file.",
                param="validation_file",
            )
        if n_classes is None:
            raise bad_request(
                "compute_classification_metrics requires classification_n_classes (multiclass) "
                "or classification_positive_class (binary).",
                param="classification_n_classes",
            )
    if (
        n_classes == 2
        and body.compute_classification_metrics
        and not (body.classification_positive_class)
    ):
        raise bad_request(
            "Binary classification metrics need classification_positive_class.",
            param="classification_positive_class",
        )
    return n_classes


def fine_tune_object(
    state: BackendState, job: JobRecord, *, with_events: bool = True
) -> dict[str, Any]:
    """A FineTune object (with `events` on create/retrieve/cancel, without in lists)."""
    resolved = job.resolved or {}
    hyperparams: dict[str, Any] = {
        "n_epochs": job.n_epochs or resolved.get("n_epochs") or DEFAULT_N_EPOCHS,
        "batch_size": job.batch_size or resolved.get("batch_size"),
        "prompt_loss_weight": job.prompt_loss_weight
        if job.prompt_loss_weight is not None
        else DEFAULT_PROMPT_LOSS_WEIGHT,
        "learning_rate_multiplier": job.learning_rate_multiplier
        or resolved.get("learning_rate_multiplier"),
    }
    if job.compute_classification_metrics:
        hyperparams["compute_classification_metrics"] = True
        hyperparams["classification_n_classes"] = job.classification_n_classes
        hyperparams["classification_positive_class"] = job.classification_positive_class
        if job.classification_betas:
            hyperparams["classification_betas"] = job.classification_betas
    obj: dict[str, Any] = {
        "object": "fine-tune",
        "id": job.id,
        "hyperparams": hyperparams,
        "organization_id": job.organization_id,
        "model": job.model,
        "training_files": _files(state, job, [job.training_file]),
        "validation_files": _files(
            state, job, [job.validation_file] if job.validation_file else []
        ),
        "result_files": _files(state, job, job.result_files),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "status": job.status,
        "fine_tuned_model": job.fine_tuned_model,
    }
    if with_events:
        obj["events"] = [event_object(e) for _, e in state.store.events(job.id)]
    return obj


def _files(state: BackendState, job: JobRecord, ids: list[str]) -> list[dict[str, Any]]:
    records = [state.store.get_file(file_id, job.org) for file_id in ids]
    return [file_object(r) for r in records if r is not None]


def event_object(event: EventRecord) -> dict[str, Any]:
    """A FineTuneEvent: object, created_at, level, message (no id)."""
    return {
        "object": "fine-tune-event",
        "created_at": event.created_at,
        "level": event.level,
        "message": event.message,
    }


def _get(state: BackendState, org: OrgDep, fine_tune_id: str) -> JobRecord:
    job = state.store.get_job(fine_tune_id, org.id)
    if job is None or job.dialect != "legacy":
        raise no_such("FineTune", fine_tune_id)
    return job


@router.post("")
def create_fine_tune(
    body: FineTuneCreate, state: StateDep, org: OrgDep, idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    """Create a fine-tune; it starts `pending` with its `Created fine-tune` event (an
    `Idempotency-Key` seen before with the same body returns that fine-tune instead)."""
    if "suffix" in body.model_fields_set and body.suffix is None:
        raise bad_request("None is not of type 'string' - 'suffix'")
    require_file(state, org, body.training_file, "training_file")
    if body.validation_file is not None:
        require_file(state, org, body.validation_file, "validation_file")
    n_classes = _check_classification(body)
    # One transaction: the object shows the job as created, before the scheduler adds events.
    fingerprint = request_fingerprint("POST /v1/fine-tunes", body)
    with state.store.transaction():
        job = create_once(
            state,
            org,
            idempotency_key,
            fingerprint,
            lambda: new_job(
                state,
                org,
                "legacy",
                model=body.model or "curie",
                training_file=body.training_file,
                validation_file=body.validation_file,
                n_epochs=body.n_epochs or DEFAULT_N_EPOCHS,
                batch_size=body.batch_size,
                learning_rate_multiplier=body.learning_rate_multiplier,
                prompt_loss_weight=body.prompt_loss_weight
                if body.prompt_loss_weight is not None
                else DEFAULT_PROMPT_LOSS_WEIGHT,
                compute_classification_metrics=bool(body.compute_classification_metrics),
                classification_n_classes=n_classes,
                classification_positive_class=body.classification_positive_class,
                classification_betas=body.classification_betas,
                suffix=body.suffix,
                seed=secrets.randbelow(MAX_SEED),
            ),
        )
        return fine_tune_object(state, job)


@router.get("")
def list_fine_tunes(state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Every fine-tune of the organization (no pagination, no events)."""
    jobs = state.store.list_jobs(org.id, "legacy")
    return {"object": "list", "data": [fine_tune_object(state, j, with_events=False) for j in jobs]}


@router.get("/{fine_tune_id}")
def retrieve_fine_tune(fine_tune_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """One fine-tune with its events."""
    return fine_tune_object(state, _get(state, org, fine_tune_id))


@router.post("/{fine_tune_id}/cancel")
def cancel_fine_tune(fine_tune_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Cancel a pending or running fine-tune."""
    return fine_tune_object(state, cancel_job(state, _get(state, org, fine_tune_id)))


@router.get("/{fine_tune_id}/events", response_model=None)
def fine_tune_events(
    fine_tune_id: str, state: StateDep, org: OrgDep, stream: bool = False
) -> dict[str, Any] | StreamingResponse:
    """Events so far; with `stream=true`, server-sent events: history, live, `data: [DONE]`."""
    job = _get(state, org, fine_tune_id)
    if not stream:
        events = [event_object(e) for _, e in state.store.events(job.id)]
        return {"object": "list", "data": events}
    return StreamingResponse(
        _event_stream(state, job.id),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


async def _event_stream(state: BackendState, job_id: str) -> AsyncIterator[bytes]:
    seq = 0
    while True:
        job = state.store.get_job(job_id)
        finished = job is None or job.status in TERMINAL_STATUSES
        for event_seq, event in state.store.events(job_id, after_seq=seq):
            yield b"data: " + orjson.dumps(event_object(event)) + b"\n\n"
            seq = event_seq
        if finished:
            yield b"data: [DONE]\n\n"
            return
        if state.shutting_down:
            return
        await asyncio.sleep(SSE_POLL_S)
