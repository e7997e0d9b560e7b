"""A detached run (`job.follow: detach`, `ftkit run --detach`) waits on its provider: the flow
run ends in a Completed state named so, and the run's status artifact says it, until the watch
flow (or `ftkit follow`) carries the run on."""

from __future__ import annotations

from prefect.artifacts import acreate_markdown_artifact
from prefect.states import Completed, State

from ftkit.api import Job
from ftkit.runs import RunFolder

WAITING = "Waiting on provider"


async def waiting_on_provider(run: RunFolder, job: Job) -> State[object]:
    """Publish that the run waits on `job`; the flow run's final state, carrying the outcome."""
    await publish_waiting(run, job)
    return Completed(
        name=WAITING,
        message=f"{WAITING}: job {job.id} is {job.status.value}; the watch flow carries it on.",
        data=run.outcome(),
    )


async def publish_waiting(run: RunFolder, job: Job) -> None:
    """The run's status artifact: waiting on the provider, with the job's last event."""
    state = run.load_state()
    events = run.events.events()
    last = events[-1]["message"] if events else "none yet"
    await acreate_markdown_artifact(
        key=f"{state.experiment}-status",
        markdown=f"**{WAITING}**: job `{job.id}` is {job.status.value}.\n\nLast event: {last}",
        description=f"{WAITING}: run {state.run_id}",
    )
