"""What the Prefect UI shows for a run: training progress, each event, the report, failures.

Artifact keys are per experiment (`<experiment>-progress`, `-loss`, `-report`, `-metrics`,
`-report-link`, `-failure`), so the UI's Artifacts page keeps a version history per experiment.
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

from prefect import get_client, get_run_logger
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.client.schemas.actions import ArtifactUpdate

from ftkit.api import FollowUpdate, Job, JobStatus
from ftkit.data.models import DataValidationError, PreparedData
from ftkit.errors import DataError, JobFailedError
from ftkit.report import Report, metrics_records, summary_markdown
from ftkit.report.loss_chart import loss_chart_markdown, loss_point, loss_points
from ftkit.report.markdown import markdown_table
from ftkit.report.serve import report_url
from ftkit.report.tables import Table
from ftkit.runs import RunFolder, steps

UPDATE_EVERY_S = 1.0
"""At most one progress update per second: each one is a request to the Prefect API."""


class TrainingProgress:
    """While a job trains: a progress bar, a live loss chart and one log line per job event.

    The bar's description says which step the job is at, so after a failure or a cancel it
    still shows where the job stopped (step 300/1440), not the last throttled percentage.
    """

    def __init__(self, run: RunFolder, progress_id: UUID, chart_id: UUID) -> None:
        self.run = run
        self.progress_id = progress_id
        self.chart_id = chart_id
        self.points = loss_points(run.events.events())
        self.step: tuple[int, int] | None = None
        self.updated = 0.0
        self.log = get_run_logger()

    @classmethod
    async def start(cls, run: RunFolder) -> TrainingProgress:
        """Create the progress artifact at 0 % and the loss chart (from any earlier events)."""
        state = run.load_state()
        progress_id = await acreate_progress_artifact(
            progress=0.0,
            key=f"{state.experiment}-progress",
            description=f"Job {state.job_id}: waiting for the first training step",
        )
        chart_id = await acreate_markdown_artifact(
            key=f"{state.experiment}-loss",
            markdown=loss_chart_markdown(loss_points(run.events.events()), _chart_title(run)),
            description=f"Loss while job {state.job_id} trains",
        )
        return cls(run, progress_id, chart_id)

    async def update(self, update: FollowUpdate) -> None:
        """Log the event; redraw bar and chart at most once a second."""
        event = update.event
        self.log.log(logging.ERROR if event.level == "error" else logging.INFO, event.message)
        self.step = steps.training_progress(update) or self.step
        point = loss_point(event.message, event.data)
        if point is not None:
            self.points.append(point)
        if (point or self.step) and time.monotonic() - self.updated >= UPDATE_EVERY_S:
            await self.publish("training, at")

    async def finish(self, job: Job) -> None:
        """Show how the job ended and at which step; fill the bar when it succeeded."""
        if job.status is JobStatus.succeeded:
            if self.step is not None:
                self.step = (self.step[1], self.step[1])
            await self.publish("succeeded at", done=True)
        else:
            await self.publish(f"{job.status.value} after")

    async def stopped(self, exc: Exception) -> None:
        """Show where following stopped: the job failed, or the provider could not be reached."""
        await self.publish(
            "failed after" if isinstance(exc, JobFailedError) else "no longer followed after"
        )

    async def publish(self, status: str, *, done: bool = False) -> None:
        """Update the bar (percent, and `Job … failed after step n/N`) and the loss chart."""
        self.updated = time.monotonic()
        job_id = self.run.load_state().job_id
        if self.step is None:
            percent, where = (100.0 if done else 0.0), "its start (no training step reported)"
        else:
            step, total = self.step
            percent, where = round(100 * step / max(total, 1), 1), f"step {step}/{total}"
        await aupdate_progress_artifact(
            self.progress_id, progress=percent, description=f"Job {job_id} {status} {where}"
        )
        async with get_client() as client:
            await client.update_artifact(
                self.chart_id,
                ArtifactUpdate(data=loss_chart_markdown(self.points, _chart_title(self.run))),
            )


def _chart_title(run: RunFolder) -> str:
    state = run.load_state()
    return f"Loss: {state.experiment}/{state.run_id}"


def log_findings(prepared: PreparedData) -> None:
    """Log the data findings that need attention (warnings and errors)."""
    log = get_run_logger()
    for finding in prepared.findings:
        if finding.severity != "info":
            log.warning("data %s: %s", finding.code, finding.message)


async def publish_failure(run: RunFolder) -> None:
    """A markdown artifact with the provider's error code and message (or ftkit's error)."""
    state = run.load_state()
    if state.error is None:
        return
    markdown = (
        f"# Run {state.experiment}/{state.run_id} {state.status}\n\n"
        f"| | |\n|---|---|\n| job | `{state.job_id}` |\n"
        f"| error code | `{state.error.code}` |\n| message | {state.error.message} |\n"
    )
    await acreate_markdown_artifact(
        key=f"{state.experiment}-failure", markdown=markdown, description="Why the run failed"
    )


async def publish_data_failure(run: RunFolder, exc: DataError) -> None:
    """A markdown artifact with what is wrong with the data: file, lines, check and message."""
    state = run.load_state()
    headline, *details = str(exc).splitlines()
    markdown = f"# Run {state.experiment}/{state.run_id} failed: data error\n\n{headline}\n"
    prepared = exc.prepared if isinstance(exc, DataValidationError) else None
    if prepared is not None:
        rows = [
            [f.severity, f.source or prepared.source, _lines(f.lines, f.count), f.code, f.message]
            for f in prepared.findings
            if f.severity != "info"
        ]
        table = Table(["", "file", "lines", "check", "message"], rows)
        markdown += "\n" + markdown_table(table) + "\n"
    elif details:
        markdown += "\n" + "\n".join(f"- {line.strip()}" for line in details) + "\n"
    await acreate_markdown_artifact(
        key=f"{state.experiment}-failure", markdown=markdown, description="Why the run failed"
    )


def _lines(lines: list[int], count: int) -> str:
    listed = ", ".join(str(line) for line in lines)
    return f"{listed} (+{count - len(lines)} more)" if count > len(lines) else listed


async def publish_report(run: RunFolder, report: Report, base_url: str | None = None) -> None:
    """The report summary (markdown), the final metrics (table) and a link to the report.

    The link opens over HTTP under `base_url` (a `ftkit reports serve`), else it is file://.
    """
    state = run.load_state()
    key = state.experiment
    await acreate_markdown_artifact(
        key=f"{key}-report",
        markdown=summary_markdown(report)
        + "\n## Loss\n\n"
        + loss_chart_markdown(loss_points(run.events.events()), _chart_title(run))
        + "\n",
        description=f"Report of run {state.run_id}",
    )
    await acreate_table_artifact(
        key=f"{key}-metrics",
        table=metrics_records(report)
        or [{"metric": k, "fine_tuned": v} for k, v in state.metrics.items()],
        description=f"Final metrics of {state.fine_tuned_model}",
    )
    await acreate_link_artifact(
        key=f"{key}-report-link",
        link=report_url(run.report_html, run.runs_dir, base_url),
        link_text=f"{state.experiment}/{state.run_id}/report.html",
        description="The full report: report.html of the run",
    )
