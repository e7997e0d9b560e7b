"""`ftkit jobs`: create, list, inspect, control and follow fine-tune jobs.

Provider options come after `jobs` (see `ftkit files`), e.g.
`ftkit jobs --base-url http://127.0.0.1:8000/v1 follow ftjob-abc`.
`follow` exits 0 when the job succeeded, 1 when it failed, 3 when it was cancelled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftkit.cli._common import (
    FormatOpt,
    GroupOptionsAnywhere,
    OutputFormat,
    print_items,
    print_json,
)
from ftkit.cli.files import config_section, open_client, provider_options

if TYPE_CHECKING:
    from ftkit.api import Checkpoint, Client, Job, JobEvent
    from ftkit.config import JobConfig

jobs_app = typer.Typer(
    cls=GroupOptionsAnywhere,
    help="Fine-tune jobs: create, list, get, cancel, pause, resume, follow.",
)

EXIT_INTERRUPTED = 130


JOB_HEADER = "id\tstatus\tmodel\tfine_tuned_model"


def _job_line(job: Job) -> str:
    model = job.fine_tuned_model or "-"
    return f"{job.id}\t{job.status}\t{job.model or '-'}\t{model}"


def _event_line(event: JobEvent) -> str:
    when = dt.datetime.fromtimestamp(event.created_at).strftime("%Y-%m-%d %H:%M:%S")
    return f"[{when}] {event.message}"


def _checkpoint_line(checkpoint: Checkpoint) -> str:
    return (
        f"{checkpoint.id}\tstep {checkpoint.step_number}\t{checkpoint.fine_tuned_model_checkpoint}"
    )


def _print_job(job: Job, format: OutputFormat) -> None:
    if format is OutputFormat.json:
        typer.echo(job.model_dump_json(indent=2, exclude={"raw"}))
    else:
        typer.echo(_job_line(job))
        if job.error:
            typer.echo(f"error: {job.error.code}: {job.error.message}")


def job_config(ctx: typer.Context) -> JobConfig:
    """The job section of the `--config` file, or the defaults."""
    from pydantic import ValidationError

    from ftkit.config import JobConfig
    from ftkit.errors import ConfigError

    try:
        return JobConfig.model_validate(config_section(ctx, "job"))
    except ValidationError as exc:
        problems = "; ".join(
            f"job.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid job section: {problems}.") from None


def _file_id(client: Client, value: str) -> str:
    """A file id as given, or the id of a local file uploaded (or reused) for it."""
    if Path(value).is_file():
        item = client.files.upload_or_reuse(value)
        typer.echo(f"Uploaded file from {value}: {item.id}", err=True)
        return item.id
    return value


@jobs_app.command("create")
def create(
    ctx: typer.Context,
    training_file: Annotated[
        str, typer.Option("--training-file", "-t", help="File id, or a local file to upload.")
    ],
    validation_file: Annotated[
        str | None, typer.Option("--validation-file", "-v", help="File id or local file.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Base model (default: babbage-002).")
    ] = None,
    suffix: Annotated[str | None, typer.Option()] = None,
    n_epochs: Annotated[int | None, typer.Option()] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    learning_rate_multiplier: Annotated[float | None, typer.Option()] = None,
    prompt_loss_weight: Annotated[float | None, typer.Option(help="Legacy dialect.")] = None,
    compute_classification_metrics: Annotated[bool, typer.Option(help="Legacy dialect.")] = False,
    classification_n_classes: Annotated[int | None, typer.Option()] = None,
    classification_positive_class: Annotated[str | None, typer.Option()] = None,
    classification_betas: Annotated[list[float] | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    run_key: Annotated[
        str | None,
        typer.Option(help="Idempotency key: one job per key (default: hash of the parameters)."),
    ] = None,
    follow: Annotated[
        bool, typer.Option(help="Follow the job's events after creating it.")
    ] = False,
    format: FormatOpt = OutputFormat.text,
) -> None:
    """Create a job (once per run key). Example: ftkit jobs create -t train.jsonl -m babbage-002

    With `--config` (before `create`), the config's job section gives the defaults; flags win.
    """
    from ftkit.api import JobSpec

    flags = {
        "model": model,
        "suffix": suffix,
        "n_epochs": n_epochs,
        "batch_size": batch_size,
        "learning_rate_multiplier": learning_rate_multiplier,
        "prompt_loss_weight": prompt_loss_weight,
        "compute_classification_metrics": compute_classification_metrics or None,
        "classification_n_classes": classification_n_classes,
        "classification_positive_class": classification_positive_class,
        "classification_betas": classification_betas or None,
        "seed": seed,
    }
    with open_client(ctx) as client:
        training = _file_id(client, training_file)
        validation = _file_id(client, validation_file) if validation_file else None
        spec = JobSpec.from_config(job_config(ctx), training, validation)
        spec = JobSpec.model_validate(
            {**spec.model_dump(), **{k: v for k, v in flags.items() if v is not None}}
        )
        key = run_key or "cli-" + hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]
        job = client.jobs.create(spec, key)
        if not follow:
            _print_job(job, format)
            return
        typer.echo(f"Created fine-tune: {job.id}")
        typer.echo("Streaming events until fine-tuning is complete...")
        typer.echo("(Ctrl-C will interrupt the stream, but not cancel the fine-tune)")
        raise typer.Exit(_follow(client, job.id, None, format))


@jobs_app.command("list")
def list_jobs(ctx: typer.Context, format: FormatOpt = OutputFormat.text) -> None:
    """List jobs (id, status, base model, fine-tuned model).

    Example: ftkit jobs --dialect legacy list
    """
    with open_client(ctx) as client:
        jobs = client.jobs.list()
    print_items(jobs, format, _job_line, exclude={"raw"}, header=JOB_HEADER)


@jobs_app.command("get")
def get(ctx: typer.Context, job_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Show one job.

    Example: ftkit jobs get ftjob-abc123 --format json
    """
    with open_client(ctx) as client:
        _print_job(client.jobs.get(job_id), format)


@jobs_app.command("cancel")
def cancel(ctx: typer.Context, job_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Cancel a job.

    Example: ftkit jobs cancel ftjob-abc123
    """
    with open_client(ctx) as client:
        _print_job(client.jobs.cancel(job_id), format)


@jobs_app.command("pause")
def pause(ctx: typer.Context, job_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Pause a running job (jobs dialect).

    Example: ftkit jobs pause ftjob-abc123
    """
    with open_client(ctx) as client:
        _print_job(client.jobs.pause(job_id), format)


@jobs_app.command("resume")
def resume(ctx: typer.Context, job_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Resume a paused job (jobs dialect).

    Example: ftkit jobs resume ftjob-abc123
    """
    with open_client(ctx) as client:
        _print_job(client.jobs.resume(job_id), format)


@jobs_app.command("events")
def events(ctx: typer.Context, job_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """Print the job's events so far, oldest first.

    Example: ftkit jobs events ftjob-abc123
    """
    with open_client(ctx) as client:
        items = client.jobs.events(job_id)
    print_items(items, format, _event_line)


@jobs_app.command("follow")
def follow(
    ctx: typer.Context,
    job_id: str,
    cursor_file: Annotated[
        Path | None,
        typer.Option(
            "--cursor",
            help="Read the cursor here to resume, and keep it up to date while following.",
        ),
    ] = None,
    format: FormatOpt = OutputFormat.text,
) -> None:
    """Print events until the job ends; exit 0 succeeded, 1 failed, 3 cancelled.

    Example: ftkit jobs follow ftjob-abc123 --cursor follow.json
    """
    with open_client(ctx) as client:
        raise typer.Exit(_follow(client, job_id, cursor_file, format))


def _follow(client: Client, job_id: str, cursor_file: Path | None, format: OutputFormat) -> int:
    from ftkit.api import EventCursor, JobStatus

    cursor = None
    if cursor_file is not None and cursor_file.exists():
        cursor = EventCursor.model_validate_json(cursor_file.read_text(encoding="utf-8"))
    try:
        for update in client.jobs.follow(job_id, cursor):
            if format is OutputFormat.json:
                typer.echo(json.dumps(update.model_dump(mode="json"), ensure_ascii=False))
            else:
                typer.echo(_event_line(update.event))
            if cursor_file is not None:
                tmp = cursor_file.with_name(cursor_file.name + ".tmp")
                tmp.write_text(update.cursor.model_dump_json(), encoding="utf-8")
                tmp.replace(cursor_file)
    except KeyboardInterrupt:
        status = client.jobs.get(job_id).status
        typer.echo(
            f"\nStream interrupted. Job {job_id} is still {status}: it keeps running.", err=True
        )
        typer.echo(f"To resume the stream, run:\n  ftkit jobs follow {job_id}", err=True)
        typer.echo(f"To cancel the job, run:\n  ftkit jobs cancel {job_id}", err=True)
        return EXIT_INTERRUPTED
    job = client.jobs.get(job_id)
    if format is OutputFormat.text:
        if job.status is JobStatus.succeeded:
            typer.echo(
                f"Job complete! Status: succeeded 🎉\nFine-tuned model: {job.fine_tuned_model}"
            )
        elif job.status is JobStatus.failed:
            detail = f" ({job.error.code}: {job.error.message})" if job.error else ""
            typer.echo(f"Job failed{detail}.")
        else:
            typer.echo(f"Job {job.status}.")
    return {JobStatus.succeeded: 0, JobStatus.cancelled: 3}.get(job.status, 1)


@jobs_app.command("results")
def results(
    ctx: typer.Context,
    job_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also save the result CSV here.")
    ] = None,
    format: FormatOpt = OutputFormat.text,
) -> None:
    """Download the job's result file and print a summary of its metrics.

    Example: ftkit jobs results ftjob-abc123 --format json
    """
    from ftkit.results import decode_results, parse_results, result_file_id, summarize

    with open_client(ctx) as client:
        content = client.files.content(result_file_id(client.jobs.get(job_id)))
    if output is not None:
        output.write_text(decode_results(content) + "\n", encoding="utf-8")
    summary = summarize(parse_results(content))
    if format is OutputFormat.json:
        print_json(summary)
        return
    for name, value in summary.model_dump().items():
        if value not in (None, {}):
            typer.echo(f"{name}: {value}")


@jobs_app.command("checkpoints")
def checkpoints(ctx: typer.Context, job_id: str, format: FormatOpt = OutputFormat.text) -> None:
    """List the job's checkpoints (jobs dialect).

    Example: ftkit jobs checkpoints ftjob-abc123
    """
    with open_client(ctx) as client:
        items = client.jobs.checkpoints(job_id)
    print_items(items, format, _checkpoint_line)


def register(app: typer.Typer) -> None:
    """Add `ftkit jobs` to the ftkit app."""
    jobs_app.callback()(provider_options)
    app.add_typer(jobs_app, name="jobs")
