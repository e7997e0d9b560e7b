"""`/v1/files`: upload (streamed to disk), list, retrieve, delete, content."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ftkit.backend.deps import OrgDep, StateDep
from ftkit.backend.errors import bad_request, no_such, too_large
from ftkit.backend.ids import new_id
from ftkit.backend.records import FileRecord
from ftkit.backend.uploads import PURPOSES, check_fine_tune_file, receive_upload

router = APIRouter(prefix="/v1/files", tags=["files"])
MULTIPART_OVERHEAD = 64 * 1024


def file_object(record: FileRecord) -> dict[str, Any]:
    """A File object, keys in the order real legacy responses used."""
    return {
        "object": "file",
        "id": record.id,
        "purpose": record.purpose,
        "filename": record.filename,
        "bytes": record.bytes,
        "created_at": record.created_at,
        "status": record.status,
        "status_details": record.status_details,
    }


@router.post("")
async def upload_file(request: Request, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Upload a file (multipart `file` + `purpose`); fine-tune files are checked at once."""
    limit = state.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large(limit)
    tmp = state.store.new_blob_tmp()
    try:
        upload = await receive_upload(
            request.stream(), request.headers.get("content-type", ""), tmp, limit
        )
        purpose = upload.fields.get("purpose")
        if upload.filename is None:
            raise bad_request("Missing required parameter: 'file'.", param="file")
        if not purpose:
            raise bad_request("Missing required parameter: 'purpose'.", param="purpose")
        if purpose not in PURPOSES:
            raise bad_request(
                f"'{purpose}' is not one of {list(PURPOSES)} - 'purpose'", param="purpose"
            )
        if purpose == "fine-tune":
            await run_in_threadpool(check_fine_tune_file, tmp, upload.filename)
        record = FileRecord(
            id=new_id("file-"),
            org=org.id,
            purpose=purpose,
            filename=upload.filename,
            bytes=upload.size,
            created_at=int(time.time()),
        )
        state.store.add_file(record, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return file_object(record)


@router.get("")
def list_files(
    state: StateDep,
    org: OrgDep,
    purpose: str | None = None,
    limit: int = Query(10000, ge=1, le=10000),
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    """Files of the caller's organization, newest first by default, `after` a file id."""
    records = state.store.list_files(
        org.id, purpose=purpose, descending=order == "desc", after=after
    )
    page = records[:limit]
    return {
        "object": "list",
        "data": [file_object(r) for r in page],
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
        "has_more": len(records) > limit,
    }


def _get(state: StateDep, org: OrgDep, file_id: str) -> FileRecord:
    record = state.store.get_file(file_id, org.id)
    if record is None:
        raise no_such("File", file_id)
    return record


@router.get("/{file_id}")
def retrieve_file(file_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """One file's metadata."""
    return file_object(_get(state, org, file_id))


@router.delete("/{file_id}")
def delete_file(file_id: str, state: StateDep, org: OrgDep) -> dict[str, Any]:
    """Delete a file and its bytes."""
    _get(state, org, file_id)
    state.store.delete_file(file_id)
    return {"id": file_id, "object": "file", "deleted": True}


@router.get("/{file_id}/content")
def file_content(file_id: str, state: StateDep, org: OrgDep) -> FileResponse:
    """The stored bytes, as uploaded (or as generated, for result files)."""
    _get(state, org, file_id)
    return FileResponse(state.store.blob_path(file_id), media_type="application/octet-stream")
