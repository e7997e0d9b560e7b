"""The watch flow: carries detached runs (`job.follow: detach`) to their end, one short flow run
at a time, so a multi-hour hosted job holds no worker while it trains.

    ftkit watch --every 60                 # serve the watch deployment from this process
    ftkit watch --every 60 --pool ftkit    # or register it on a work pool

Each watch run looks at every run under `runs_dir` that is still running with a detached job:
it records the job's new events from the saved cursor and, once the job has ended, fetches the
results, evaluates and reports it (the same tasks as the pipeline). A run folder is worked on
only under its lease (ftkit.runs.lease, the one a pipeline runner holds), taken without waiting,
and its state is read again inside it, so two overlapping watch runs never advance (or report)
one run twice: the second one skips it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, get_run_logger

from flows.pipeline import conclude
from flows.waiting import publish_waiting
from ftkit.api import AsyncClient, JobStatus
from ftkit.config import ExperimentConfig
from ftkit.errors import FtkitError, JobFailedError
from ftkit.runs import RunFolder, RunIndex, steps
from ftkit.runs.endpoint import api_base_url
from ftkit.runs.lease import Lease

CATCH_UP_S = 5.0
"""How long one watch run listens to a job's events before it moves on."""


@flow(name="ftkit-watch")
async def watch_runs(runs_dir: str = "runs") -> dict[str, str]:
    """Advance every detached run under `runs_dir`; each one's status afterwards, by run id."""
    log = get_run_logger()
    outcome: dict[str, str] = {}
    for entry in RunIndex(Path(runs_dir)).entries():
        if entry.status != "running":
            continue
        run = RunFolder(Path(runs_dir) / entry.path)
        with exclusively(run) as ours:
            if not ours:
                log.info("Run %s is being advanced by another watch run", run.path)
                continue
            config = run.load_config()
            state = run.load_state()
            if config.job.follow != "detach" or state.status != "running" or not state.job_id:
                continue
            try:
                outcome[entry.run_id] = await advance(run, config, state.job_id)
            except FtkitError as exc:  # e.g. the provider is down: the next watch run retries
                log.warning("Run %s: %s", run.path, exc)
                outcome[entry.run_id] = run.load_state().status
    return outcome


async def advance(run: RunFolder, config: ExperimentConfig, job_id: str) -> str:
    """Record the job's new events; conclude the run once its job has ended. Its status after."""
    with api_base_url(config) as url:
        async with AsyncClient(config.provider, base_url=url) as client:
            try:
                job = await steps.catch_up(client, run, config, job_id, CATCH_UP_S)
            except JobFailedError:  # recorded in the run folder as the job's failure
                return "failed"
            if not job.status.terminal:
                await publish_waiting(run, job)
            elif job.status is JobStatus.succeeded:
                with run.recording_errors():
                    await conclude(client, run, config, job)
    return run.load_state().status


@contextmanager
def exclusively(run: RunFolder) -> Iterator[bool]:
    """Hold the run's lease (the one a pipeline runner holds) if it is free; yield whether it
    was."""
    lease = Lease(run.path, label="ftkit watch")
    if not lease.try_acquire():
        yield False
        return
    try:
        yield True
    finally:
        lease.release()
