"""`/_ftkit/*`: test and benchmark controls (not part of the OpenAI API).

Off unless the server has an admin key (then they answer that key only) or `enable_faults` on
an open server (then anyone). Every other caller, tenants included, gets the same 404 as an
unknown URL, whatever the method, so nobody learns they exist.

POST/GET/DELETE /_ftkit/faults (a FaultPlan), GET/DELETE /_ftkit/stats,
POST/GET /_ftkit/settings (simulated delays: step_seconds, queue_seconds, time_scale).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ftkit.backend.auth import is_admin
from ftkit.backend.deps import StateDep, get_state
from ftkit.backend.settings import FaultPlan


def admin_only(request: Request) -> None:
    """404 (as for an unknown URL) unless the caller may use the admin endpoints."""
    settings = get_state(request).settings
    authorization = request.headers.get("authorization")
    if settings.admin_key is None and settings.enable_faults:
        return
    if not is_admin(authorization, settings.admin_key):
        raise HTTPException(404)


router = APIRouter(
    prefix="/_ftkit", tags=["admin"], dependencies=[Depends(admin_only)], include_in_schema=False
)


class TimingUpdate(BaseModel):
    """Fields to change; omitted ones keep their value."""

    model_config = ConfigDict(extra="forbid")

    step_seconds: float | None = Field(None, ge=0)
    queue_seconds: float | None = Field(None, ge=0)
    time_scale: float | None = Field(None, ge=0)


@router.post("/faults")
def set_faults(plan: FaultPlan, state: StateDep) -> dict[str, Any]:
    """Replace the fault plan."""
    state.faults.set(plan)
    return plan.model_dump()


@router.get("/faults")
def get_faults(state: StateDep) -> dict[str, Any] | None:
    """The current fault plan (null when none)."""
    return state.faults.plan.model_dump() if state.faults.plan else None


@router.delete("/faults")
def clear_faults(state: StateDep) -> dict[str, bool]:
    """Remove the fault plan."""
    state.faults.set(None)
    return {"deleted": True}


@router.get("/stats")
def get_stats(state: StateDep) -> dict[str, Any]:
    """Requests seen so far: list, counts per "METHOD route", bytes in and out."""
    return state.stats.snapshot()


@router.delete("/stats")
def reset_stats(state: StateDep) -> dict[str, bool]:
    """Forget the recorded requests."""
    state.stats.reset()
    return {"deleted": True}


@router.post("/settings")
def update_timing(update: TimingUpdate, state: StateDep) -> dict[str, Any]:
    """Change simulated delays; running jobs pick up the new step delay at once."""
    state.timing = state.timing.model_copy(update=update.model_dump(exclude_none=True))
    state.runner.set_timing(state.timing)
    return state.timing.model_dump()


@router.get("/settings")
def get_timing(state: StateDep) -> dict[str, Any]:
    """The current simulated delays."""
    return state.timing.model_dump()


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
def unknown(path: str) -> None:
    """Any other path or method under /_ftkit: 404, not 405, so methods reveal nothing."""
    raise HTTPException(404)
