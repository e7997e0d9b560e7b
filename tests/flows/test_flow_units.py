"""Flow wiring without a Prefect server: retry classes, the cancellation race, progress parsing."""

from __future__ import annotations

import asyncio

import pytest

from flows import cancellation
from flows.pipeline import is_provider_outage
from ftkit.api import EventCursor, FollowUpdate, JobEvent, JobStatus
from ftkit.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DataError,
    InternalServerError,
    JobFailedError,
    QuotaExceededError,
    RateLimitError,
)


def status_error(cls: type, status: int) -> Exception:
    return cls("boom", status_code=status)


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (APIConnectionError("refused"), True),
        (APITimeoutError("slow"), True),
        (status_error(InternalServerError, 503), True),
        (status_error(RateLimitError, 429), True),
        (status_error(QuotaExceededError, 429), False),
        (status_error(AuthenticationError, 401), False),
        (status_error(BadRequestError, 400), False),
        (DataError("bad line 3"), False),
        (JobFailedError("ftjob-1", code="server_error"), False),
    ],
)
def test_tasks_retry_only_provider_outages(exc: Exception, retried: bool) -> None:
    """Outages are retried by the task; quota, auth, request, data and job failures are not."""
    assert is_provider_outage(exc) is retried


def test_cancel_request_stops_following_and_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the flow run is cancelled first, following stops and the cancel path runs."""
    stopped = asyncio.Event()

    async def following() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise
        return "finished"

    async def cancel() -> str:
        return "cancelled"

    async def requested(flow_run_id: object) -> None:
        await asyncio.sleep(0.01)

    monkeypatch.setattr(cancellation, "cancel_requested", requested)
    result = asyncio.run(cancellation.follow_unless_cancelled(following(), cancel))
    assert result == "cancelled"
    assert stopped.is_set()


def test_finished_job_wins_over_a_quiet_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cancel request the followed job's result comes back and the watch stops."""

    async def following() -> str:
        return "finished"

    async def never(flow_run_id: object) -> None:
        await asyncio.sleep(60)

    async def cancel() -> str:
        raise AssertionError("cancel must not run")

    monkeypatch.setattr(cancellation, "cancel_requested", never)
    assert asyncio.run(cancellation.follow_unless_cancelled(following(), cancel)) == "finished"


def update(message: str, data: dict[str, object] | None = None) -> FollowUpdate:
    event = JobEvent(id="ev", created_at=1, message=message, type="metrics", data=data)
    return FollowUpdate(event=event, job_status=JobStatus.running, cursor=EventCursor(job_id="j"))


def test_training_progress_from_event_data_or_message() -> None:
    """Steps done/total come from the metrics data, else from 'Step k/N' in the message."""
    from ftkit.runs.steps import training_progress

    assert training_progress(update("x", {"step": 3, "total_steps": 30})) == (3, 30)
    assert training_progress(update("Step 12/480: training loss=0.50")) == (12, 480)
    assert training_progress(update("Fine-tuning job started")) is None


def test_deployment_parameters_are_the_config_path_and_overrides_with_its_schedules() -> None:
    """`ftkit deploy` registers a deployment named after the experiment, on schedule.cron and
    schedule.interval_s, whose parameters stay small: the config's path and the overrides
    (relative paths made absolute for a worker in another directory)."""
    from pathlib import Path

    from flows.deploy import deployment_for

    config_path = Path(__file__).resolve().parents[2] / "configs" / "scheduled.yaml"
    deployment = deployment_for(config_path, ["schedule.interval_s=90", "runs_dir=elsewhere"])
    assert deployment.name == "support-tickets-nightly"
    assert deployment.parameters == {
        "config": str(config_path),
        "overrides": ["schedule.interval_s=90", f"runs_dir={Path.cwd() / 'elsewhere'}"],
    }
    cron, interval = (schedule.schedule for schedule in deployment.schedules)
    assert (cron.cron, cron.timezone) == ("0 3 * * *", "UTC")
    assert interval.interval.total_seconds() == 90
