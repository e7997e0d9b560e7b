"""Cancelling a flow run cancels its remote fine-tune job.

Two paths, because Prefect reaches runs differently (see ../shared/reference/prefect.md §3.6):
- a run executed by a worker or `flow.serve()` is killed by its runner, which then calls the
  `on_cancellation` hook: `cancel_remote_job` cancels the job recorded in the run folder;
- a run started directly (`ftkit run`) is never interrupted by Prefect; its state only turns
  CANCELLING. The follow step therefore polls its own flow run's state and, once cancellation
  is asked for, stops following and cancels the job itself (`follow_unless_cancelled`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from prefect import get_client, runtime
from prefect.client.schemas.objects import FlowRun, StateType

from ftkit.api import Client, Job, JobStatus
from ftkit.config import resolve_config
from ftkit.errors import BadRequestError, ConflictError
from ftkit.runs import FINAL_STATUSES, RunError, RunFolder
from ftkit.runs.endpoint import api_base_url

CHECK_INTERVAL_S = 2.0
_CANCEL_STATES = {StateType.CANCELLING, StateType.CANCELLED}


async def cancel_requested(flow_run_id: str) -> None:
    """Return once the flow run's state is CANCELLING or CANCELLED (checked every 2 s)."""
    async with get_client() as prefect:
        while True:
            current = await prefect.read_flow_run(flow_run_id)  # type: ignore[arg-type]
            if current.state is not None and current.state.type in _CANCEL_STATES:
                return
            await asyncio.sleep(CHECK_INTERVAL_S)


async def follow_unless_cancelled(
    following: Coroutine[Any, Any, Job], cancel: Callable[[], Awaitable[Job]]
) -> Job:
    """Await `following`; if this flow run is cancelled first, stop it and await `cancel()`."""
    follow_task = asyncio.ensure_future(following)
    watch_task = asyncio.ensure_future(cancel_requested(runtime.flow_run.id))
    await asyncio.wait({follow_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
    if follow_task.done():
        watch_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch_task
        return follow_task.result()
    follow_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follow_task
    return await cancel()


def cancel_remote_job(flow: object, flow_run: FlowRun, state: object) -> None:
    """on_cancellation hook: cancel the job of a flow run that its runner killed.

    Prefect calls it with keyword arguments (flow, flow_run, state), in the runner process.
    """
    parameters = flow_run.parameters
    config = resolve_config(parameters["config"], parameters.get("overrides") or [])
    folder = RunFolder.for_config(config)
    recorded = folder.load_state()
    if recorded.job_id is None or recorded.status in {"succeeded", "cancelled"}:
        return
    with api_base_url(config) as base_url, Client(config.provider, base_url=base_url) as client:
        job = client.jobs.get(recorded.job_id)
        if job.status.terminal and recorded.status in FINAL_STATUSES:
            return  # the run had ended on its own (its job failed) before the cancel
        if not job.status.terminal:  # also when run.json says failed: the kill can cause that
            # it may end between the two calls: the provider then refuses (400 or 409)
            with contextlib.suppress(BadRequestError, ConflictError):
                client.jobs.cancel(job.id)
            job = client.jobs.get(job.id)
        folder.save_model(folder.job_json, job)
    outcome = (
        "cancelled too" if job.status is JobStatus.cancelled else f"{job.status.value} already"
    )
    folder.update(
        status="cancelled",
        error=RunError(message=f"flow run {flow_run.id} was cancelled; job {job.id} {outcome}"),
    )
