"""A Prefect deployment of the pipeline for one experiment config, on the config's schedule.

    ftkit deploy configs/scheduled.yaml                 # or: python -m flows.deploy configs/...

`flow.serve()` registers the deployment (named after the experiment, with `schedule.cron`) and
runs each scheduled or manual run (`prefect deployment run fine-tune-pipeline/<name>`) in a
subprocess; because the runner executes them, cancelling one in the UI kills it and the
`on_cancellation` hook cancels its remote job. Needs a Prefect server that outlives this process
(`prefect server start`, then PREFECT_API_URL); the ephemeral API disappears with it.
"""

from __future__ import annotations

import sys

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.pipeline import fine_tune_pipeline
from ftkit.config import ExperimentConfig, load_config


def deployment_for(config: ExperimentConfig) -> RunnerDeployment:
    """The deployment of this config: its parameters, tags and cron schedule (if any)."""
    schedule = config.schedule
    schedules = (
        [Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active)]
        if schedule.cron
        else None
    )
    # to_deployment dispatches on the caller: from sync code it returns the deployment itself
    deployment = fine_tune_pipeline.to_deployment(
        name=config.name,
        parameters={"config": config.model_dump(mode="json")},
        schedules=schedules,
        concurrency_limit=1,
        tags=["ftkit", config.name],
        description=f"Fine-tune {config.job.model} on {config.data.source.name}",
    )
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def serve_config(config: ExperimentConfig) -> None:
    """Register the deployment and run its flow runs until interrupted."""
    serve(deployment_for(config))


if __name__ == "__main__":
    serve_config(load_config(sys.argv[1], sys.argv[2:]))
