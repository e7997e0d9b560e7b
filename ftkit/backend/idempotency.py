"""`Idempotency-Key` on job creates: the same key with the same body gives the same job, even
for two creates racing each other; the same key with another body is a 409.

Keys are per organization and kept with the job they made (in the store, so they survive
restarts and are shared by servers on one data directory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import Header
from pydantic import BaseModel

from ftkit.backend.auth import Org
from ftkit.backend.errors import bad_request
from ftkit.backend.records import JobRecord
from ftkit.backend.state import BackendState
from ftkit.errors import ConflictError

MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Repeat a create safely: the same key and body return the first job.",
    ),
]


def request_fingerprint(route: str, body: BaseModel) -> str:
    """A hash of the route and the fields the caller sent (order and unset defaults ignored)."""
    sent = body.model_dump(mode="json", exclude_unset=True)
    return hashlib.sha256(
        route.encode() + orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


def create_once(
    state: BackendState,
    org: Org,
    key: str | None,
    fingerprint: str,
    create: Callable[[], JobRecord],
) -> JobRecord:
    """The job `key` already made for this body, or a new one from `create()` remembered under
    `key` in the same transaction (so a racing twin waits and then finds it)."""
    if key is None:
        return create()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        msg = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
        raise bad_request(msg, param="Idempotency-Key")
    with state.store.transaction():
        found = state.store.idempotent_job(org.id, key)
        if found is not None:
            job_id, known = found
            if known != fingerprint:
                raise ConflictError(
                    "This Idempotency-Key was already used with a different request body; "
                    "use a new key for a different request.",
                    status_code=409,
                    type="invalid_request_error",
                    code="idempotency_key_reused",
                )
            job = state.store.get_job(job_id, org.id)
            if job is not None:
                return job
        job = create()
        state.store.remember_idempotent_job(org.id, key, fingerprint, job.id)
        return job
