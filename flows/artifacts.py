"""What the Prefect UI shows for a run: training progress, each event, the report, failures.

Artifact keys are per experiment (`<experiment>-progress`, `-report`, `-metrics`,
`-report-link`, `-failure`), so the UI's Artifacts page keeps a version history per experiment.
"""

from __future__ import annotations

import logging
import time
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)

from ftkit.api import FollowUpdate, Job, JobStatus
from ftkit.data.models import PreparedData
from ftkit.report import Report, metrics_records, summary_markdown
from ftkit.runs import RunFolder, steps

UPDATE_EVERY_S = 1.0
"""At most one progress update per second: each one is a request to the Prefect API."""


class TrainingProgress:
    """A progress artifact (training steps done / total) and one log line per job event."""

    def __init__(self, run: RunFolder, artifact_id: UUID) -> None:
        self.run = run
        self.artifact_id = artifact_id
        self.percent = 0.0
        self.updated = 0.0
        self.log = get_run_logger()

    @classmethod
    async def start(cls, run: RunFolder) -> TrainingProgress:
        """Create the progress artifact at 0 %."""
        state = run.load_state()
        artifact_id = await acreate_progress_artifact(
            progress=0.0,
            key=f"{state.experiment}-progress",
            description=f"Training steps done, job {state.job_id}",
        )
        return cls(run, artifact_id)

    async def update(self, update: FollowUpdate) -> None:
        """Log the event; move the progress bar when a whole percent more of the steps is done."""
        event = update.event
        self.log.log(logging.ERROR if event.level == "error" else logging.INFO, event.message)
        progress = steps.training_progress(update)
        if progress is None:
            return
        done, total = progress
        percent = round(100 * done / max(total, 1), 1)
        now = time.monotonic()
        if percent > self.percent and (now - self.updated >= UPDATE_EVERY_S or percent == 100):
            self.percent, self.updated = percent, now
            await aupdate_progress_artifact(self.artifact_id, progress=percent)

    async def finish(self, job: Job) -> None:
        """Fill the bar when the job succeeded."""
        if job.status is JobStatus.succeeded and self.percent < 100:
            await aupdate_progress_artifact(self.artifact_id, progress=100.0)


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


async def publish_report(run: RunFolder, report: Report) -> None:
    """The report summary (markdown), the final metrics (table) and a link to the report file."""
    state = run.load_state()
    key = state.experiment
    await acreate_markdown_artifact(
        key=f"{key}-report",
        markdown=summary_markdown(report),
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
        link=run.report_html.resolve().as_uri(),
        link_text=f"{state.experiment}/{state.run_id}/report.html",
        description="The full report in the run folder",
    )
