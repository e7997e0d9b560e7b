"""How a sweep runs one trial, behind one small interface (`TrialLauncher`):

- `as_subflow`: the pipeline as a subflow of the sweep's flow run, in the sweep's process;
- `on_pool`: a run of the pipeline's unscheduled deployment
  `fine-tune-pipeline/<experiment>-trials` (which `ftkit run` of the sweep registers on the
  pool) that any worker of the pool picks up, linked to
  the sweep's flow run as its child (`run_deployment`).

Either way the trial is an ordinary pipeline run of the trial's own config, so it has the same
run key and run folder, and the run folder (shared by the pool's machines) is what the
leaderboard reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prefect import get_client, get_run_logger
from prefect.client.schemas.objects import WorkerStatus
from prefect.deployments import arun_deployment

from flows import labels
from flows.deploy import trials_deployment_name
from flows.pipeline import fine_tune_pipeline
from ftkit.config import ExperimentConfig, resolve_config
from ftkit.errors import ConfigError
from ftkit.runs import config_hash
from ftkit.sweeps.search import Trial

TrialLauncher = Callable[[Trial, str], Awaitable[bool]]
"""Run a trial (and its run id) to the end of its pipeline run; whether that run completed."""

POLL_S = 2.0
"""How often the sweep looks at a trial's deployment run."""


def as_subflow(base_url: str | None) -> TrialLauncher:
    """Trials as subflows of the sweep's flow run, in this process."""

    async def launch(trial: Trial, run_id: str) -> bool:
        state = await fine_tune_pipeline(
            trial.config, base_url=base_url, swept=trial.overrides, promote=False,
            return_state=True,
        )  # fmt: skip
        return state.is_completed()

    return launch


async def on_pool(
    source: ExperimentConfig | str, overrides: list[str], pool: str, base_url: str | None
) -> TrialLauncher:
    """Trials as runs of the experiment's pipeline deployment on work pool `pool`.

    `source` and `overrides` are the sweep's own config parameters: a trial's run gets the
    config's path with the overrides, `sweep={}` and the trial's values (or, for a config
    passed whole, the trial's config itself), and `base_url` when the sweep has one.
    """
    config = resolve_config(source, overrides)
    deployment = f"{fine_tune_pipeline.name}/{trials_deployment_name(config.name)}"
    await _warn_without_workers(pool)

    async def launch(trial: Trial, run_id: str) -> bool:
        parameters = trial_parameters(source, overrides, trial)
        parameters.update(swept=trial.overrides, promote=False)
        if base_url is not None:
            parameters["base_url"] = base_url
        flow_run = await arun_deployment(
            deployment,
            parameters=parameters,
            flow_run_name=labels.run_name(config.name, run_id),
            tags=labels.run_tags(trial.config, trial.overrides),
            poll_interval=POLL_S,
            as_subflow=True,
        )
        state = flow_run.state
        if state is None or not state.is_completed():
            get_run_logger().warning(
                "Trial %s (%s) ended %s: %s", trial.number, run_id,
                state.name if state else "without a state", state.message if state else "",
            )  # fmt: skip
            return False
        return True

    return launch


def trial_parameters(
    source: ExperimentConfig | str, overrides: list[str], trial: Trial
) -> dict[str, Any]:
    """The pipeline deployment's `config` and `overrides` for one trial.

    Raises ConfigError if they would not load as the trial's config (another config hash
    would make a finished trial run again).
    """
    if not isinstance(source, str):
        return {"config": trial.config.model_dump(mode="json"), "overrides": []}
    # `sweep={}`: a trial is one run, its config has no sweep (as expand_sweep makes it)
    args = [*overrides, "sweep={}", *trial.override_args()]
    if config_hash(resolve_config(source, args)) != config_hash(trial.config):
        msg = f"sweep trial {trial.number}: {source} with {args} is not the trial's config"
        raise ConfigError(msg)
    return {"config": source, "overrides": args}


async def _warn_without_workers(pool: str) -> None:
    async with get_client() as client:
        workers = await client.read_workers_for_work_pool(pool)
    if not any(worker.status == WorkerStatus.ONLINE for worker in workers):
        get_run_logger().warning(
            "No worker is online on work pool %r: the trials wait until one starts "
            "(prefect worker start --pool %s)", pool, pool,
        )  # fmt: skip
