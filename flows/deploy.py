"""A Prefect deployment of the pipeline for one experiment config, on the config's schedule.

    ftkit deploy configs/scheduled.yaml                  # serve it from this process
    ftkit deploy configs/scheduled.yaml --pool ftkit     # register it on a work pool and exit

The deployment's parameters are small and editable in the UI's custom run: the config file's
path and a list of `key=value` overrides (the flow also accepts the config itself). Served,
`flow.serve()` runs each scheduled or manual run in a subprocess; on a pool, any
`prefect worker start --pool POOL` whose environment has ftkit installed imports the flow by
module path and runs it in the directory `ftkit deploy` ran in. Either way the run has a runner,
so cancelling it kills it and the `on_cancellation` hook cancels its remote job. Needs a Prefect
server that outlives this process (`prefect server start`, then PREFECT_API_URL).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from prefect import get_client, serve
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.schedules import Cron, Interval, Schedule

from flows.pipeline import fine_tune_pipeline
from flows.watch import watch_runs
from ftkit.config import ScheduleConfig, absolute_overrides, load_config


def schedules_for(schedule: ScheduleConfig) -> list[Schedule]:
    """The Prefect schedules of a `schedule:` section: its cron and/or its interval."""
    schedules: list[Schedule] = []
    if schedule.cron:
        schedules.append(Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active))
    if schedule.interval_s:
        every = timedelta(seconds=schedule.interval_s)
        schedules.append(Interval(every, timezone=schedule.timezone, active=schedule.active))
    return schedules


def trials_deployment_name(experiment: str) -> str:
    """The deployment a sweep's trials run as: apart from the experiment's own (scheduled) one."""
    return f"{experiment}-trials"


def deployment_for(
    config_path: str | Path, overrides: list[str], *, trials: bool = False
) -> RunnerDeployment:
    """The deployment of a config file + overrides: named after the experiment, on its schedule.

    With `trials`, the unscheduled deployment a sweep's trials run as (its own name, so
    registering it never replaces the experiment's schedule, nor makes trials wait on the
    schedule's one-at-a-time limit). The parameters carry the absolute config path and
    overrides (relative paths resolved here), so a worker in another directory loads the same
    config.
    """
    path = Path(config_path).resolve()
    overrides = absolute_overrides(overrides)
    config = load_config(path, overrides)
    schedules = [] if trials else schedules_for(config.schedule)
    # to_deployment dispatches on the caller: from sync code it returns the deployment itself
    deployment = fine_tune_pipeline.to_deployment(
        name=trials_deployment_name(config.name) if trials else config.name,
        parameters={"config": str(path), "overrides": overrides},
        schedules=schedules or None,
        # a schedule never overlaps itself; manual runs (other overrides) may run side by side
        concurrency_limit=1 if schedules else None,
        tags=["ftkit", config.name],
        description=f"Fine-tune {config.job.model} on {config.data.source.name}",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def watch_deployment(runs_dir: str | Path, every_s: float) -> RunnerDeployment:
    """The watch deployment of a runs folder: `ftkit-watch/<folder name>` every `every_s`."""
    folder = Path(runs_dir).resolve()
    deployment = watch_runs.to_deployment(
        name=folder.name,
        parameters={"runs_dir": str(folder)},
        interval=timedelta(seconds=every_s),
        tags=["ftkit", "watch"],
        description=f"Carry the detached runs under {folder} on",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def serve_or_register(deployment: RunnerDeployment, pool: str | None) -> UUID | None:
    """Serve the deployment from this process until interrupted (pool None), or register it on
    work pool `pool` (a process pool, created if missing) and return its id."""
    if pool is None:
        serve(deployment)
        return None
    ensure_process_pool(pool)
    # workers run it where `ftkit deploy` ran (as a served deployment runs), not in a temp dir
    deployment.job_variables = {"working_dir": str(Path.cwd())}
    deployment_id = deployment.apply(work_pool_name=pool)
    assert isinstance(deployment_id, UUID)
    return deployment_id


def ensure_process_pool(name: str) -> None:
    """Create the process work pool `name` unless a pool of that name exists (a worker
    started on it meanwhile may have created it: `prefect worker start --pool` does)."""
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_pool(
                    WorkPoolCreate(name=name, type="process", base_job_template=template)
                )
