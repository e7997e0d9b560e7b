"""The fine-tuning pipeline: one Prefect flow, read top to bottom as the story of one run.

    prepare → upload → create_job → follow → fetch_results → evaluate → report

Each task is a thin wrapper over `ftkit.runs.steps` (plain library code); the flow adds retries,
progress artifacts, logs and cancellation. The run folder is the resume state, not Prefect: a
re-run of the same config and data re-attaches to its job and continues from the saved cursor,
and a finished run is reported as up to date.

Retries, per failure class: the API client already retries transient HTTP failures (connection
errors, 408/409/429/5xx) with short backoff. A task retries only when the provider stayed
unreachable or kept failing past that (APIConnectionError, 5xx, rate limits that are not an
exhausted quota), with longer delays; job creation is safe to retry because it is idempotent by
run key. Data, config and request errors (4xx), an exhausted quota and a failed job fail fast.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from flows import artifacts, labels
from flows.abandoned import settle_abandoned
from flows.cancellation import cancel_remote_job, follow_unless_cancelled
from flows.concurrency import job_slot
from flows.waiting import waiting_on_provider
from ftkit.api import AsyncClient, Job, JobStatus
from ftkit.config import ExperimentConfig, resolve_config
from ftkit.data.models import PreparedData
from ftkit.errors import (
    APIConnectionError,
    DataError,
    InternalServerError,
    QuotaExceededError,
    RateLimitError,
)
from ftkit.evaluate import EvaluationResult
from ftkit.report import Report
from ftkit.results import ResultsSummary
from ftkit.runs import RunFolder, RunOutcome, moderation, steps
from ftkit.runs.endpoint import api_base_url
from ftkit.runs.lease import Lease, LeaseHolder

RETRY_DELAYS_S = [5.0, 30.0]


def is_provider_outage(exc: BaseException) -> bool:
    """Whether a later attempt can fix this failure: the provider was down or overloaded."""
    if isinstance(exc, QuotaExceededError):
        return False
    return isinstance(exc, APIConnectionError | InternalServerError | RateLimitError)


async def retry_on_provider_outage(
    task: Task[Any, Any], task_run: TaskRun, state: State[Any]
) -> bool:
    """Prefect retry condition: retry a task only after a provider outage."""
    try:
        await state.aresult()
    except Exception as exc:
        return is_provider_outage(exc)
    return False


api_task = task(
    retries=len(RETRY_DELAYS_S),
    retry_delay_seconds=RETRY_DELAYS_S,
    retry_condition_fn=retry_on_provider_outage,
    cache_policy=NO_CACHE,
)


@task(cache_policy=NO_CACHE)
async def prepare(run: RunFolder, config: ExperimentConfig) -> PreparedData:
    """Validate and split the dataset; data errors fail here with their findings."""
    with run.timed("prepare"):
        try:
            prepared = steps.prepare(run, config)
        except DataError as exc:
            await artifacts.publish_data_failure(run, exc)
            raise
    artifacts.log_findings(prepared)
    return prepared


@api_task
async def attach(client: AsyncClient, run: RunFolder) -> Job | None:
    """The job an earlier attempt created, if any (retried while the provider is down)."""
    return await steps.attach(client, run)


@api_task
async def moderate(
    client: AsyncClient, run: RunFolder, config: ExperimentConfig, prepared: PreparedData
) -> PreparedData:
    """The `data.moderation` pre-screen: flagged lines fail the run, are dropped, or listed."""
    with run.timed("moderate"):
        prepared = await moderation.screen(client, run, config, prepared)
    if prepared.moderation is not None and prepared.moderation.flagged:
        get_run_logger().warning(prepared.moderation.summary())
    return prepared


@api_task
async def upload(client: AsyncClient, run: RunFolder, prepared: PreparedData) -> list[str]:
    """Upload the training and validation splits (reused when the content is already there)."""
    with run.timed("upload"):
        return await steps.upload(client, run, prepared)


@api_task
async def create_job(
    client: AsyncClient,
    run: RunFolder,
    config: ExperimentConfig,
    prepared: PreparedData,
    file_ids: list[str],
) -> Job:
    """Create the fine-tune job, exactly one per run key."""
    with run.timed("create_job"):
        job = await steps.create_job(client, run, config, prepared, file_ids)
    get_run_logger().info("Job %s created (%s)", job.id, job.status)
    return job


@api_task
async def follow(client: AsyncClient, run: RunFolder, config: ExperimentConfig, job: Job) -> Job:
    """Follow the job to its end: each event logged once, progress published, cancel honoured."""
    with run.timed("follow"):
        progress = await artifacts.TrainingProgress.start(run)
        try:
            job = await follow_unless_cancelled(
                steps.follow(client, run, config, job, progress.update),
                cancel=lambda: steps.cancel(client, run, job),
            )
        except Exception as exc:
            await progress.stopped(exc)
            await artifacts.publish_failure(run)
            raise
        await progress.finish(job)
    return job


@api_task
async def fetch_results(client: AsyncClient, run: RunFolder, job: Job) -> ResultsSummary | None:
    """Download the result files into the run folder and summarise them."""
    with run.timed("fetch_results"):
        return await steps.fetch_results(client, run, job)


@api_task
async def evaluate(
    client: AsyncClient, run: RunFolder, config: ExperimentConfig, job: Job
) -> EvaluationResult | None:
    """Predict the held-out split with the fine-tuned model and the baseline; score both."""
    with run.timed("evaluate"):
        return await steps.evaluate(client, run, config, job)


@task(cache_policy=NO_CACHE)
async def report(run: RunFolder, config: ExperimentConfig, promote: bool = True) -> Report:
    """Write the report files, apply the quality gate, publish summary, metrics and link."""
    with run.timed("report"):
        built = steps.report(run, config, promote=promote)
    await artifacts.publish_report(run, built, config.report.base_url)
    return built


@flow(name="fine-tune-pipeline", on_cancellation=[cancel_remote_job])
async def fine_tune_pipeline(
    config: ExperimentConfig | str,
    overrides: list[str] | None = None,
    detach: bool | None = None,
    base_url: str | None = None,
    swept: dict[str, Any] | None = None,
    promote: bool = True,
) -> RunOutcome | State[Any]:
    """Prepare, upload, train, follow, evaluate and report one run of an experiment config.

    `config` is the config or the path of its YAML file, `overrides` are `key=value` changes on
    top (a deployment's parameters). `detach` ends the flow run once the job exists (default:
    `job.follow: detach` in the config). `base_url` points at an already running API (the CLI
    passes its embedded backend); without it a `local` provider gets an embedded backend
    started for this flow run. A sweep trial passes its `swept` values (tagged) and
    `promote=False` (its sweep picks the champion).
    """
    config = resolve_config(config, overrides or [])
    run = RunFolder.for_config(config)
    await labels.label_run(config, run.path.name, swept)
    if run.is_up_to_date(config):
        get_run_logger().info("Run %s is up to date (%s)", run.path, run.load_state().status)
        return run.outcome(up_to_date=True)
    # one runner per run key: a second runner waits here, reading only, until the first ends
    async with Lease(run.path, label=f"flow run {flow_run.id}").held(_waiting_for) as lease:
        if run.is_up_to_date(config):  # the runner waited for finished it
            return run.outcome(up_to_date=True)
        await settle_abandoned(run.load_state().flow_run_id, current_id=flow_run.id)
        run.start_attempt(config, flow_run_id=flow_run.id)
        with run.recording_errors(), api_base_url(config, base_url) as url:
            async with AsyncClient(config.provider, base_url=url) as client:
                prepared = await prepare(run, config)
                async with job_slot(config.provider):
                    job = await attach(client, run)
                    if job is not None:
                        get_run_logger().info(
                            "Re-attached to existing job %s (%s)", job.id, job.status
                        )
                    else:
                        if config.data.moderation is not None:
                            prepared = await moderate(client, run, config, prepared)
                        lease.check()
                        file_ids = await upload(client, run, prepared)
                        lease.check()
                        job = await create_job(client, run, config, prepared, file_ids)
                    if detach or (detach is None and config.job.follow == "detach"):
                        return await waiting_on_provider(run, job)
                    job = await follow(client, run, config, job)
                lease.check()
                if job.status is JobStatus.cancelled:
                    return Cancelled(message=f"Fine-tune job {job.id} was cancelled.")
                return await conclude(client, run, config, job, promote)


async def conclude(
    client: AsyncClient, run: RunFolder, config: ExperimentConfig, job: Job, promote: bool = True
) -> RunOutcome:
    """The end of a run whose job succeeded: results, evaluation, report; the run succeeds."""
    await fetch_results(client, run, job)
    await evaluate(client, run, config, job)
    await report(run, config, promote)
    run.succeed()
    steps.settle_report_status(run)
    return run.outcome()


def _waiting_for(holder: LeaseHolder) -> None:
    get_run_logger().warning(
        "Another runner (%s) is working on this run; waiting for it, reading only",
        holder.describe(),
    )
