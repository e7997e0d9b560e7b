"""What both fine-tuning dialects share: checking files and models at create, new job records,
cancelling."""

from __future__ import annotations

import time
from typing import Any

from ftkit.backend import lifecycle
from ftkit.backend.auth import Org
from ftkit.backend.errors import bad_request
from ftkit.backend.ids import new_id, random_alnum
from ftkit.backend.naming import LEGACY_BASE_MODELS, resolve_base
from ftkit.backend.records import TERMINAL_STATUSES, Dialect, JobRecord
from ftkit.backend.state import BackendState
from ftkit.backend.training.transformer import LM_BASE_MODELS

MAX_SEED = 2147483647


def require_file(state: BackendState, org: Org, file_id: str | None, param: str) -> None:
    """400 `invalid training_file: <id>` unless it is a fine-tune file of this organization."""
    record = state.store.get_file(file_id, org.id) if file_id else None
    if record is None or record.purpose != "fine-tune":
        raise bad_request(f"invalid {param}: {file_id}", param=param)


def resolve_model(
    state: BackendState, org: Org, name: str, dialect: Dialect
) -> tuple[str, str, str | None]:
    """(model shown on the job, root base model, parent fine-tuned model or None).

    Legacy jobs train ada/babbage/curie/davinci (and babbage-002/davinci-002) or continue a
    legacy fine-tune; jobs-dialect jobs train the current base models or continue an `ft:` one.
    The real language models train in both dialects.
    """
    base = resolve_base(name)
    allowed = base is not None and (dialect == "jobs") != (base in LEGACY_BASE_MODELS)
    if dialect == "legacy" and base in ("babbage-002", "davinci-002", *LM_BASE_MODELS):
        allowed = True
    if allowed and base is not None:
        return base, base, None
    parent = state.store.get_model(name, org.id)
    if parent is not None and (dialect == "jobs") == name.startswith("ft:"):
        return name, parent.base_model, name
    raise bad_request(
        f"Model {name} is not available for fine-tuning or does not exist.",
        param="model",
        code="model_not_available",
    )


def new_job(
    state: BackendState, org: Org, dialect: Dialect, *, model: str, **fields: Any
) -> JobRecord:
    """Create and record a job (legacy `pending`, jobs `validating_files`) with its first events."""
    shown, base, parent = resolve_model(state, org, model, dialect)
    now = int(time.time())
    job = JobRecord(
        id=new_id("ft-" if dialect == "legacy" else "ftjob-"),
        org=org.id,
        organization_id=org.id,
        org_slug=org.slug,
        dialect=dialect,
        status="pending" if dialect == "legacy" else "validating_files",
        model=shown,
        base_model=base,
        parent_model=parent,
        model_token=random_alnum(8),
        created_at=now,
        updated_at=now,
        **fields,
    )
    with state.store.transaction():
        state.store.add_job(job)
        lifecycle.created(state.store, job)
    return job


def cancel_job(state: BackendState, job: JobRecord) -> JobRecord:
    """Cancel a job that has not finished (400 otherwise) and stop its training."""
    with state.store.transaction():
        updated = state.store.update_job(
            job.id,
            expect=[s for s in _ALL_STATUSES if s not in TERMINAL_STATUSES],
            status="cancelled",
            finished_at=int(time.time()),
        )
        if updated is None:
            raise already_finished(job)
        lifecycle.cancelled(state.store, updated)
    state.runner.stop_job(job.id)
    return updated


def already_finished(job: JobRecord) -> Exception:
    """400 for an operation on a job that has already ended."""
    if job.dialect == "legacy":
        return bad_request(f"Fine-tune {job.id} has already {job.status}.", param="id")
    return bad_request(f"Job has already completed: {job.id} ({job.status}).", param="id")


_ALL_STATUSES = ("validating_files", "pending", "queued", "running", "paused", *TERMINAL_STATUSES)
