"""run.json and the run index entry: what a run is, where it got to, and what it produced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["pending", "running", "interrupted", "succeeded", "failed", "cancelled"]
"""`interrupted`: the runner was stopped (SIGTERM, Ctrl-C); the job is left as it was."""
Stage = Literal[
    "created",
    "prepare",
    "upload",
    "create_job",
    "follow",
    "fetch_results",
    "evaluate",
    "report",
    "done",
]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunError(BaseModel):
    """Why a run failed: the provider's code and message, or ftkit's own error."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = None
    message: str


class RunState(BaseModel):
    """run.json: the state of one run, rewritten atomically after every step."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    run_id: str
    run_key: str
    experiment: str
    config_hash: str = Field(description="Hash of the whole resolved config.")
    data_sha256: str
    status: RunStatus = "pending"
    stage: Stage = "created"
    base_model: str
    job_id: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    fine_tuned_model: str | None = None
    error: RunError | None = None
    metrics: dict[str, float | None] = Field(
        default_factory=dict,
        description="Headline metrics (evaluation, else the results file; valid_* are on the "
        "whole validation set, last_batch_valid_* on the last validation batch of training).",
    )
    timings: dict[str, float] = Field(
        default_factory=dict, description="Wall seconds per stage of the latest attempt."
    )
    attempt_timings: list[dict[str, float]] = Field(
        default_factory=list, description="Wall seconds per stage of every attempt, oldest first."
    )
    stage_started_at: dict[str, float] = Field(
        default_factory=dict, description="Unix time each stage of the latest attempt started."
    )
    attempts: int = Field(0, description="How many times a pipeline worked on this run.")
    flow_run_id: str | None = None
    sweep_id: str | None = Field(None, description="The sweep this run is a trial of, if any.")
    swept: dict[str, Any] = Field(
        default_factory=dict, description="The values the sweep set for this trial (dotted keys)."
    )
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    finished_at: str | None = None


class IndexEntry(BaseModel):
    """One line of runs/index.jsonl."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    experiment: str
    path: str = Field(description="The run folder, relative to the runs directory.")
    run_key: str
    config_hash: str
    status: RunStatus
    stage: Stage
    base_model: str
    job_id: str | None = None
    fine_tuned_model: str | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    error: str | None = None
    created_at: str
    finished_at: str | None = None
    sweep_id: str | None = None
    swept: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, state: RunState) -> IndexEntry:
        """The index entry that summarises a run state."""
        error = None
        if state.error is not None:
            error = (
                f"{state.error.code}: {state.error.message}"
                if state.error.code
                else state.error.message
            )
        return cls(
            **state.model_dump(include=set(cls.model_fields) - {"path", "error"}),
            path=f"{state.experiment}/{state.run_id}",
            error=error,
        )


class RunOutcome(BaseModel):
    """The result of running (or re-running) the pipeline on a run folder."""

    path: str
    state: RunState
    up_to_date: bool = Field(False, description="The run had already finished; nothing was done.")
