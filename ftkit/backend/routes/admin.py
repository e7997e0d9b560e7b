"""`/_ftkit/*`: test and benchmark controls (not part of the OpenAI API). An open server
answers them to anyone; a server with keys wants any valid key (`enable_admin=False` removes
them).

POST/GET/DELETE /_ftkit/faults (a FaultPlan), GET/DELETE /_ftkit/stats,
POST/GET /_ftkit/settings (simulated delays: step_seconds, queue_seconds, time_scale).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ftkit.backend.deps import StateDep, current_org
from ftkit.backend.settings import FaultPlan

router = APIRouter(prefix="/_ftkit", tags=["admin"], dependencies=[Depends(current_org)])


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
