"""The steps of one run as plain async functions over its run folder.

`flows/pipeline.py` wraps each in a Prefect task; nothing here knows about Prefect. Every step
records what it did in the run folder first, so a re-run (after a crash, a kill or on another
worker) skips what is done: the prepared data is reused, the job recorded in run.json (or found
by run key) is re-attached instead of created, and following resumes from the saved cursor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ftkit.api import AsyncClient, EventCursor, FollowUpdate, Job, JobSpec, JobStatus
from ftkit.api.local_files import path_inside, plain_name
from ftkit.config import ExperimentConfig, JobConfig
from ftkit.data.models import PreparedData
from ftkit.data.prepare import prepare_dataset
from ftkit.errors import APITimeoutError, JobFailedError, NotFoundError, UnknownJobError
from ftkit.evaluate import EvaluationResult, evaluate_run
from ftkit.report import Report, report_run
from ftkit.report.loss_chart import step_of
from ftkit.results import ResultsSummary, full_validation_points, parse_results, summarize
from ftkit.runs.atomic import read_json, write_bytes_atomic, write_json_atomic
from ftkit.runs.endpoint import BACKEND_DIR_ENV, default_backend_dir
from ftkit.runs.folder import RunFolder
from ftkit.runs.prefetch import prefetch_evaluation_imports
from ftkit.runs.state import RunError

OnUpdate = Callable[[FollowUpdate], Awaitable[None]]


def prepare(run: RunFolder, config: ExperimentConfig) -> PreparedData:
    """Validate and split the data into the run folder, or reuse what an earlier attempt wrote.

    Raises DataError (with the findings) when the data has errors no configured fix removes.
    """
    if run.validation_json.is_file():
        prepared = PreparedData.model_validate(read_json(run.validation_json))
        if prepared.written and all(split_path(prepared, s).is_file() for s in prepared.splits):
            return prepared
    return prepare_dataset(
        config.data,
        config.job.model,
        run.prepared_dir,
        n_epochs=config.job.hyperparameters.n_epochs,
        dialect=config.provider.dialect,
    )


def split_path(prepared: PreparedData, split: str) -> Path:
    """The file of one prepared split."""
    return Path(prepared.splits[split].path)  # type: ignore[index]


async def attach(client: AsyncClient, run: RunFolder) -> Job | None:
    """The job an earlier attempt created (recorded in run.json or found by run key), if any."""
    state = run.load_state()
    if state.job_id is None:
        job = await client.jobs.find_by_run_key(state.run_key)
    else:
        try:
            job = await client.jobs.get(state.job_id)
        except NotFoundError:
            raise UnknownJobError(
                f"{run.path}: the API at {client.endpoint.base_url} does not know job "
                f"{state.job_id}, which this run recorded: point the run at the provider or "
                "backend that ran it (the embedded backend's state folder is "
                f"{default_backend_dir()}, set by {BACKEND_DIR_ENV}). The run was left as it was."
            ) from None
    if job is not None:
        record_job(run, job)
    return job


async def upload(client: AsyncClient, run: RunFolder, prepared: PreparedData) -> list[str]:
    """Upload the training (and validation) split, reusing files with the same content."""
    file_ids = []
    for split in ("train", "validation"):
        if split in prepared.splits:
            uploaded = await client.files.upload_or_reuse(split_path(prepared, split))
            file_ids.append(uploaded.id)
    run.update(
        training_file=file_ids[0], validation_file=file_ids[1] if len(file_ids) > 1 else None
    )
    return file_ids


async def create_job(
    client: AsyncClient,
    run: RunFolder,
    config: ExperimentConfig,
    prepared: PreparedData,
    file_ids: list[str],
) -> Job:
    """Create the run's job; the client returns the existing one if the run key has one."""
    spec = JobSpec.from_config(with_data_defaults(config.job, prepared), *file_ids)
    job = await client.jobs.create(spec, run.load_state().run_key)
    record_job(run, job)
    return job


def with_data_defaults(job: JobConfig, prepared: PreparedData) -> JobConfig:
    """The job config with classification settings the data implies and the config left open.

    With `classification.compute_metrics` on, the class count (multiclass) or the positive
    class (binary, the last label in sorted order) comes from the prepared data, as the legacy
    `prepare_data` tool recommended.
    """
    wanted = job.classification
    classes = sorted(prepared.classes)
    if not wanted.compute_metrics or len(classes) < 2:
        return job
    if len(classes) == 2 and wanted.positive_class is None:
        wanted = wanted.model_copy(update={"positive_class": classes[-1]})
    if len(classes) > 2 and wanted.n_classes is None:
        wanted = wanted.model_copy(update={"n_classes": len(classes)})
    return job.model_copy(update={"classification": wanted})


async def follow(
    client: AsyncClient,
    run: RunFolder,
    config: ExperimentConfig,
    job: Job,
    on_update: OnUpdate | None = None,
    timeout_s: float | None = None,
) -> Job:
    """Record each new event in events.jsonl until the job ends; return the finished job.

    Resumes from cursor.json; `on_update` sees each event once (never a replayed one). A failed
    job is recorded with the provider's error and raises JobFailedError. Following stops with
    APITimeoutError after `timeout_s` (default `job.timeout_s`).
    """
    prefetch_evaluation_imports()  # while the job trains, this process mostly waits
    saved = run.events.cursor()
    cursor = EventCursor.model_validate(saved) if saved and saved["job_id"] == job.id else None
    updates = client.jobs.follow(
        job.id,
        cursor,
        poll_interval_s=config.job.poll_interval_s,
        max_poll_interval_s=config.job.max_poll_interval_s,
        timeout_s=timeout_s or config.job.timeout_s,
    )
    async for update in updates:
        new = run.events.record(
            update.event.model_dump(mode="json"), update.cursor.model_dump(mode="json")
        )
        if new and on_update is not None:
            await on_update(update)
    return await finish(client, run, job.id)


async def catch_up(
    client: AsyncClient, run: RunFolder, config: ExperimentConfig, job_id: str, listen_s: float
) -> Job:
    """Record the job's new events, listening for at most `listen_s`; the job as it is now.

    A job that has ended is settled like `follow` settles it (a failed one raises
    JobFailedError); one still training is simply left for the next call.
    """
    job = await client.jobs.get(job_id)
    try:
        return await follow(client, run, config, job, timeout_s=listen_s)
    except APITimeoutError:
        job = await client.jobs.get(job_id)
        record_job(run, job)
        return job


async def cancel(client: AsyncClient, run: RunFolder, job: Job) -> Job:
    """Cancel the remote job, record the events up to its end, and mark the run cancelled."""
    if not job.status.terminal:
        await client.jobs.cancel(job.id)
    saved = run.events.cursor()
    cursor = EventCursor.model_validate(saved) if saved and saved["job_id"] == job.id else None
    async for update in client.jobs.follow(job.id, cursor, poll_interval_s=0.2, timeout_s=60):
        run.events.record(
            update.event.model_dump(mode="json"), update.cursor.model_dump(mode="json")
        )
    return await finish(client, run, job.id)


async def finish(client: AsyncClient, run: RunFolder, job_id: str) -> Job:
    """Read the job once more, record it, and settle the run for a failed or cancelled job."""
    job = await client.jobs.get(job_id)
    record_job(run, job)
    if job.status is JobStatus.failed:
        error = job.error
        exc = JobFailedError(
            job.id,
            code=error.code if error else None,
            message=error.message if error else None,
            param=error.param if error else None,
        )
        run.fail(exc, code=exc.code)
        raise exc
    if job.status is JobStatus.cancelled:
        run.update(status="cancelled", error=RunError(message=f"job {job.id} was cancelled"))
    return job


async def fetch_results(client: AsyncClient, run: RunFolder, job: Job) -> ResultsSummary | None:
    """Download the job's result files to results/<file-id>.csv and summarise the first one.

    Every id must be a plain file name (checked before anything is downloaded): a provider
    cannot make ftkit write outside the results folder.
    """
    summary = None
    what = f"a result file of job {job.id}"
    targets = {
        file_id: path_inside(run.results_dir, plain_name(file_id, what) + ".csv", what)
        for file_id in job.result_files
    }
    for file_id, target in targets.items():
        content = await client.files.content(file_id)
        write_bytes_atomic(target, content)
        if summary is None:
            summary = summarize(parse_results(content))
    if summary is not None:
        summary = with_full_validation_from_events(summary, run.events.events())
        run.save_model(run.results_dir / "summary.json", summary)
        run.update(metrics=results_metrics(summary))
    return summary


async def evaluate(
    client: AsyncClient, run: RunFolder, config: ExperimentConfig, job: Job
) -> EvaluationResult | None:
    """Predict the held-out split with the fine-tuned model (and the baseline); None if disabled."""
    if not config.evaluate.enabled or not job.fine_tuned_model:
        return None
    result = await evaluate_run(run.path, client, config, job.fine_tuned_model)
    run.update(metrics={**run.load_state().metrics, **result.metrics})
    return result


def report(run: RunFolder, config: ExperimentConfig, *, promote: bool = True) -> Report:
    """Write report.json/.md/.html from the run folder and apply the quality gate (promoting a
    passing run unless `promote` is False)."""
    built, _ = report_run(run.path, config, promote=promote)
    return built


def settle_report_status(run: RunFolder) -> None:
    """Give report.json the run's final status (the report is written while the run runs)."""
    path = run.path / "report.json"
    if path.is_file():
        report = read_json(path)
        report["status"] = run.load_state().status
        write_json_atomic(path, report)


def with_full_validation_from_events(
    summary: ResultsSummary, events: list[dict[str, Any]]
) -> ResultsSummary:
    """Fill the whole-validation-set figures from the metrics events when the results file has
    none: the jobs dialect's CSV carries only per-batch `valid_*`, its epoch-end `full_valid_*`
    arrive in the events (and checkpoints)."""
    if summary.final_full_valid_loss is not None:
        return summary
    full = full_validation_points(events)
    if not full:
        return summary
    return summary.model_copy(
        update={
            "final_full_valid_loss": full[-1]["full_valid_loss"],
            "final_full_valid_accuracy": full[-1].get("full_valid_mean_token_accuracy"),
        }
    )


def results_metrics(summary: ResultsSummary) -> dict[str, float | None]:
    """Headline metrics from the results file: final losses and accuracies that exist."""
    metrics: dict[str, float | None] = {
        "train_loss": summary.final_train_loss,
        # valid_*: the whole validation set (at the last epoch end); last_batch_valid_*: the
        # last few validation examples scored during training, which say little on their own
        "valid_loss": summary.final_full_valid_loss,
        "valid_accuracy": summary.final_full_valid_accuracy,
        "last_batch_valid_loss": summary.final_valid_loss,
        "last_batch_valid_accuracy": summary.final_valid_accuracy,
    }
    metrics.update({f"classification/{k}": v for k, v in summary.classification.items()})
    return {name: value for name, value in metrics.items() if value is not None}


def record_job(run: RunFolder, job: Job) -> None:
    """Save job.json and the job's id, files and model in run.json."""
    run.save_model(run.job_json, job)
    run.update(
        job_id=job.id,
        training_file=job.training_file,
        validation_file=job.validation_file,
        fine_tuned_model=job.fine_tuned_model,
    )


def training_progress(update: FollowUpdate) -> tuple[int, int] | None:
    """(steps done, total steps) from a metrics event, if it says."""
    return step_of(update.event.message, update.event.data)
