"""A sweep: one parent flow run (`<experiment>/sweep-<id>`) whose trials are child runs of the
pipeline, `sweep.max_parallel` at a time, then ranked into a leaderboard. The trials run as
subflows here, or with `sweep.pool` as deployment runs on that work pool's workers
(`flows.trials`).

Each trial is an ordinary pipeline run with its own run key, so re-running a sweep reuses the
trials that finished (up to date), re-attaches to the jobs of the ones that were running, and
retries the ones that failed; a parent flow run left RUNNING by a killed process is marked
Crashed. A failed trial fails its own child run only: the others go on
and it shows as failed on the leaderboard. Only the rank-1 trial goes through the champion
gate (ranked on the validation split, never by finishing order).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect import flow
from prefect.artifacts import acreate_link_artifact, acreate_table_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel

from flows import labels
from flows.abandoned import settle_abandoned
from flows.pipeline import api_task
from flows.trials import TrialLauncher, as_subflow, on_pool
from ftkit.api import AsyncClient
from ftkit.config import ExperimentConfig, resolve_config
from ftkit.runs import RunFolder
from ftkit.runs.endpoint import api_base_url
from ftkit.sweeps.champion import settle_champion
from ftkit.sweeps.folder import SweepFolder
from ftkit.sweeps.leaderboard import Leaderboard, from_results_file
from ftkit.sweeps.pages import table
from ftkit.sweeps.search import SweepPlan, Trial, expand_sweep, plan_sweep
from ftkit.sweeps.validation import has_scores, score_validation


class SweepOutcome(BaseModel):
    """What a sweep run returns: its folder and its leaderboard."""

    folder: str
    leaderboard: Leaderboard


def sweep_run_name(plan: SweepPlan) -> str:
    """The parent flow run's name: `<experiment>/sweep-<id>`."""
    return f"{plan.experiment}/sweep-{plan.sweep_id}"


@flow(name="fine-tune-sweep")
async def fine_tune_sweep(
    config: ExperimentConfig | str, overrides: list[str] | None = None, base_url: str | None = None
) -> SweepOutcome:
    """Run every trial of the config's sweep as a child flow run, rank them on the validation
    split, settle the champion and write the leaderboard (files and a table artifact).

    `config` is the config or its YAML file's path, `overrides` are `key=value` changes on top;
    with `sweep.pool` the pool's workers load the trials from the same (a path must be absolute,
    the overrides' paths too). `base_url` points at an already running API (for the trials too).
    """
    source, overrides = config, overrides or []
    config = resolve_config(source, overrides)
    trials = expand_sweep(config)
    plan = plan_sweep(config, trials)
    await labels.label_flow_run(
        sweep_run_name(plan), ["ftkit", f"experiment:{config.name}", f"sweep:{plan.sweep_id}"]
    )
    folder = SweepFolder.for_plan(config.runs_dir, plan)
    await settle_abandoned(folder.flow_run_id(), current_id=flow_run.id)
    folder.record_flow_run(flow_run.id)
    slots = asyncio.Semaphore(config.sweep.max_parallel)
    pool = config.sweep.pool
    launch = await on_pool(source, overrides, pool, base_url) if pool else as_subflow(base_url)

    async def in_slot(trial: Trial) -> None:
        async with slots:
            await run_trial(trial, plan, launch, base_url)

    await asyncio.gather(*(in_slot(trial) for trial in trials))
    board = folder.leaderboard()
    settle_champion(board, config, folder.runs_dir)
    folder.write_leaderboard(board)
    await publish_leaderboard(board, folder)
    return SweepOutcome(folder=str(folder.path), leaderboard=board)


async def run_trial(
    trial: Trial, plan: SweepPlan, launch: TrialLauncher, base_url: str | None
) -> None:
    """One trial as a child pipeline run (its failure stays its own), then its validation
    scores when the ranking metric is a held-out one."""
    run = RunFolder.for_config(trial.config)
    run.update(sweep_id=plan.sweep_id, swept=trial.overrides)
    completed = await launch(trial, run.path.name)
    if completed and not from_results_file(plan.metric):
        # its own failure (the trial then stays unranked) must not stop the other trials
        await score_on_validation(trial.config, run.path, base_url, return_state=True)  # type: ignore[misc]


@api_task
async def score_on_validation(
    config: ExperimentConfig, run_dir: Path, base_url: str | None
) -> None:
    """The fine-tuned model's held-out metrics on the validation split (once per model)."""
    model = RunFolder(run_dir).load_state().fine_tuned_model
    if model is None or has_scores(run_dir, model):
        return
    with api_base_url(config, base_url) as url:
        async with AsyncClient(config.provider, base_url=url) as client:
            await score_validation(run_dir, client, config, model)


async def publish_leaderboard(board: Leaderboard, folder: SweepFolder) -> None:
    """The leaderboard as a table artifact on the parent run, and a link to its HTML page."""
    headers, rows = table(board)
    key = f"{board.experiment}-sweep-{board.sweep_id}"
    await acreate_table_artifact(
        key=key,
        table=[dict(zip(headers, cells, strict=True)) for cells in rows],
        description=f"Leaderboard of sweep {board.sweep_id}, ranked by {board.metric} "
        f"(validation, {board.goal})",
    )
    await acreate_link_artifact(
        key=f"{key}-page",
        link=folder.leaderboard_html.resolve().as_uri(),
        link_text=f"{board.experiment}/sweeps/{board.sweep_id}/leaderboard.html",
        description="The leaderboard page with its plots",
    )
