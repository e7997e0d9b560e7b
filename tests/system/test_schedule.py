"""Schedules fire on a real Prefect server: `ftkit deploy --pool` registers an interval
schedule, the server's own scheduler creates the runs, a `prefect worker` executes them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ftkit.api import Client, JobStatus
from ftkit.runs import RunFolder, RunIndex
from tests.system.conftest import QUICKSTART, PrefectServer, prefect_server, wait_until


async def logged(client: Any, flow_run_id: Any, text: str) -> bool:
    """Whether a log line of the flow run contains `text`."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = await client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    )
    return any(text in log.message for log in logs)


def scheduled_runs_completed(server: PrefectServer, deployment_id: Any) -> list[Any]:
    """The deployment's runs created by the scheduler that completed; fails on a failed run."""
    from prefect.client.schemas.objects import StateType

    runs = server.flow_runs(deployment_id)
    broken = [f"{run.name}: {run.state}" for run in runs if run.state_type in BROKEN]
    assert not broken, broken
    return [run for run in runs if run.auto_scheduled and run.state_type == StateType.COMPLETED]


BROKEN = {"FAILED"}
"""A run the pipeline failed. (On a loaded machine SQLite may answer a worker's submission with
503, and Prefect reports that run as crashed; the scheduler's next run still proves the point.)"""


@pytest.mark.slow
def test_the_servers_scheduler_runs_the_pipeline_then_answers_up_to_date(
    tmp_path: Path, backend: Any
) -> None:
    overrides = [
        "name=every-few-seconds",
        f"runs_dir={tmp_path / 'runs'}",
        f"provider.base_url={backend.url}",
        "job.hyperparameters.n_epochs=1",
        "schedule.interval_s=10",
    ]
    with prefect_server(tmp_path / "prefect") as server:
        deployed_at = time.monotonic()
        server.ftkit("deploy", str(QUICKSTART), *overrides, "--pool", "scheduled", cwd=tmp_path)
        deployment = server.deployment("fine-tune-pipeline/every-few-seconds")
        assert deployment.parameters["overrides"][-1] == "schedule.interval_s=10"

        with server.worker("scheduled", "w1", tmp_path, limit=1):
            first = wait_until(
                lambda: scheduled_runs_completed(server, deployment.id),
                300,
                "a scheduled run to complete",
            )[0]
            elapsed = time.monotonic() - deployed_at

            def a_later_run_was_up_to_date() -> bool:
                # its logs reach the server after its final state, so wait for them too
                later = [
                    r for r in scheduled_runs_completed(server, deployment.id) if r.id != first.id
                ]
                return any(server.run(logged, r.id, "is up to date") for r in later)

            wait_until(a_later_run_was_up_to_date, 180, "a later scheduled run to be up to date")

    print(f"ftkit deploy --pool -> first scheduled run completed: {elapsed:.1f} s")
    [entry] = RunIndex(tmp_path / "runs").entries()
    assert entry.status == "succeeded" and entry.metrics["accuracy"] > 0.5
    assert RunFolder(tmp_path / "runs" / entry.path).load_state().flow_run_id == str(first.id)
    with Client(base_url=backend.url) as client:
        [job] = client.jobs.list()
    assert job.status is JobStatus.succeeded
